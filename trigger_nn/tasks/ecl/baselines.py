"""The classical selections a calorimeter physicist would set against a trigger network.

Single cuts on one shower shape each, and a gradient-boosted-tree classifier (scikit-learn's
histogram GBDT) on all of a view's shapes together, energy and local-maximum count included: Belle II
itself combines its Zernike moments in an MVA (basf2's ``clusterZernikeMVA``, docs/physics.md §1.7).
The GBDT is trained on the training clusters only and scores the test clusters, so it is judged on
the same held-out clusters as the network. Every selection sees one view: the crystal view's
baselines come from crystal images, the trigger-cell view's from trigger-cell images.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ...errors import DataError
from .shower_shapes import SHAPE_NAMES, View

log = logging.getLogger(__name__)

GBDT = "GBDT on shower shapes"
#: the GBDT's fixed settings: scikit-learn's defaults, with more rounds and early stopping on 10 % of the training set
GBDT_SETTINGS = {"max_iter": 500, "learning_rate": 0.1, "early_stopping": True, "validation_fraction": 0.1}


@dataclass(frozen=True, kw_only=True)
class Cut:
    """A single cut on one shower shape, oriented by physics (not tuned on the test clusters)."""

    key: str  # the shape's key in ``shower_shapes``
    photon_sign: int  # +1: photons have the larger values; -1: the smaller

    @property
    def name(self) -> str:
        return SHAPE_NAMES[self.key]

    def score(self, values: np.ndarray) -> np.ndarray:
        """Higher is more photon-like, so a cut ``score >= t`` keeps photons, like the network's."""
        return self.photon_sign * np.asarray(values, dtype=np.float64)


#: one compact shower: most energy in the hottest cell and its 3 x 3, little spread (moment, LAT), little
#: left-right asymmetry (|Z51|); a second photon moves energy outwards and off-centre
CUTS = (
    Cut(key="e1_e9", photon_sign=+1),
    Cut(key="e9_e21", photon_sign=+1),
    Cut(key="second_moment_cm2", photon_sign=-1),
    Cut(key="lat", photon_sign=-1),
    Cut(key="z51", photon_sign=-1),
)


def truth_key(view: View, key: str) -> str:
    """The dataset's truth column of a view's shape (or of its GBDT score, key ``gbdt``)."""
    return f"{view.name.replace(' ', '_')}_{key}"


def cuts_of(shapes: dict[str, np.ndarray]) -> tuple[Cut, ...]:
    """The cuts a view's shapes allow (a 3 x 3 trigger-cell image has no E9/E21)."""
    return tuple(c for c in CUTS if c.key in shapes)


def gbdt_scores(
    train: dict[str, np.ndarray], is_photon: np.ndarray, test: dict[str, np.ndarray], seed: int
) -> np.ndarray:
    """The GBDT's score (log-odds of a photon) on ``test``, trained on ``train`` (shape key -> values)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    classes = np.unique(is_photon)
    if classes.size < 2:
        what = "single photons" if classes.size and classes[0] == 1 else "merged clusters"
        raise DataError(
            f"the {len(is_photon)} training clusters are all {what}: a classifier (the network, and the GBDT it is "
            "compared with) needs both classes; give the file clusters of both labels"
        )
    keys = sorted(train)
    model = HistGradientBoostingClassifier(**GBDT_SETTINGS, random_state=seed)
    model.fit(np.stack([train[k] for k in keys], axis=1), np.asarray(is_photon, dtype=int))
    log.info("GBDT on %d shower shapes: %d rounds on %d training clusters", len(keys), model.n_iter_, len(is_photon))
    return model.decision_function(np.stack([test[k] for k in keys], axis=1)).astype(np.float32)
