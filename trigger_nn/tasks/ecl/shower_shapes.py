"""Classical shower-shape cuts, the baselines an ECL trigger network must beat.

E1/E9, E9/E25 and the second (lateral) moment are what Belle II uses offline to tell photons from
merged pi0s and hadrons (basf2's ECL cluster variables; see ``docs/physics.md``). Each is computed
from the crystal image in MeV (centred on its most energetic crystal) and used as a single cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: crystals below this energy are left out of the second moment: noise far from the axis would dominate it
MOMENT_THRESHOLD_MEV = 10.0


@dataclass(frozen=True, kw_only=True)
class Baseline:
    name: str  # as shown in reports
    key: str  # the dataset's truth column
    photon_sign: int  # +1: photons have the larger values; -1: the smaller

    def score(self, values: np.ndarray) -> np.ndarray:
        """Higher is more photon-like, so a cut ``score >= t`` keeps photons, like the network's."""
        return self.photon_sign * np.asarray(values, dtype=np.float64)


BASELINES = (
    Baseline(name="E1/E9", key="e1_e9", photon_sign=+1),
    Baseline(name="E9/E25", key="e9_e25", photon_sign=+1),
    Baseline(name="second moment", key="second_moment_cm2", photon_sign=-1),
)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def shower_shapes(images_mev: np.ndarray, crystal_size_cm: float) -> dict[str, np.ndarray]:
    """E1/E9, E9/E25 and the second moment (cm^2) of crystal images (n, s, s), s odd and >= 5."""
    images = np.asarray(images_mev, dtype=np.float64)
    n, s, _ = images.shape
    c = s // 2
    e1 = images[:, c, c]
    e9 = images[:, c - 1 : c + 2, c - 1 : c + 2].sum(axis=(1, 2))
    e25 = images[:, c - 2 : c + 3, c - 2 : c + 3].sum(axis=(1, 2))
    w = np.where(images > MOMENT_THRESHOLD_MEV, images, 0.0)
    pos = (np.arange(s) - c) * crystal_size_cm
    total = w.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1.0)
    y0 = (w.sum(axis=2) * pos).sum(axis=1) / safe
    x0 = (w.sum(axis=1) * pos).sum(axis=1) / safe
    r2 = (pos[None, :, None] - y0[:, None, None]) ** 2 + (pos[None, None, :] - x0[:, None, None]) ** 2
    moment = (w * r2).sum(axis=(1, 2)) / safe
    return {
        "e1_e9": _ratio(e1, e9).astype(np.float32),
        "e9_e25": _ratio(e9, e25).astype(np.float32),
        "second_moment_cm2": moment.astype(np.float32),
    }
