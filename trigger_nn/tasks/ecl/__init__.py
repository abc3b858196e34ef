"""Belle II ECL clusters: single photons vs merged two-photon clusters (pi0 / ALP -> gamma gamma).

``config`` is the card section, ``simulation`` the cluster simulator, ``clusters_file`` the reader of
a user's own clusters, ``shower_shapes`` the classical baselines, ``physics`` the report section.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...artifacts import DatasetInfo
from ...dataset import Dataset, Split
from ..common import simulate_splits
from ..protocol import Headline, Physics, Reference, TrainedFromData
from . import physics, simulation
from .clusters_file import check_words, read_clusters
from .config import EclPhotonData
from .shower_shapes import shower_shapes

log = logging.getLogger(__name__)


def _split(data: EclPhotonData, x: np.ndarray, y: np.ndarray, image_mev: np.ndarray, **truth: np.ndarray) -> Split:
    """The network's input, its label, and the truth with the baselines' shower shapes of the same clusters."""
    shapes = shower_shapes(image_mev, data.crystal_size_cm)
    return Split(x=x, y=y, truth=truth | shapes)


def _simulated(data: EclPhotonData, seed: int) -> Dataset:
    def split(c: simulation.Clusters) -> Split:
        return _split(
            data,
            c.x,
            c.label,
            c.image_mev,
            energy_gev=c.energy_gev,
            source=c.source,
            opening_angle_rad=c.opening_angle,
            separation_cm=c.separation_cm,
        )

    train, test = simulate_splits(simulation.simulate, data, seed, "clusters (ecl_photon)")
    return Dataset(
        train=split(train),
        test=split(test),
        input_kif=simulation.input_format(data),
        class_names=simulation.CLASS_NAMES,
    )


def _from_file(data: EclPhotonData, seed: int) -> Dataset:
    assert data.user is not None
    clusters = read_clusters(data.user, data.image_size)
    words = check_words(clusters.images_mev, data)
    n = len(clusters.is_photon)
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * data.user.test_fraction))
    parts = {"test": order[:n_test], "train": order[n_test:]}
    log.info("read %d user clusters from %s: %d for training, %d for testing", n, data.user.path, n - n_test, n_test)
    unknown = np.full(n, np.nan, dtype=np.float32)
    splits = {
        name: _split(
            data,
            simulation.digitise(clusters.images_mev[idx], data),
            clusters.is_photon[idx],
            clusters.images_mev[idx],
            energy_gev=clusters.energy_gev[idx],
            source=np.full(len(idx), -1, dtype=np.int8),
            opening_angle_rad=unknown[idx],
            separation_cm=unknown[idx],
            crystals_below_zero=words.below_zero[idx],
            crystals_above_top=words.above_top[idx],
        )
        for name, idx in parts.items()
    }
    return Dataset(**splits, input_kif=simulation.input_format(data), class_names=simulation.CLASS_NAMES)


class EclTask(TrainedFromData):
    data_type = EclPhotonData

    def dataset(self, data: EclPhotonData, seed: int) -> Dataset:
        return _simulated(data, seed) if data.user is None else _from_file(data, seed)

    def describe(self, data: EclPhotonData) -> str:
        return simulation.description(data)

    def headline(self, data: EclPhotonData) -> Headline:
        return Headline(label="merged rejection at 90 % photon eff.", key="merged_rejection_at_90pct_photon_eff")

    def evaluate(
        self,
        data: EclPhotonData,
        test: Split,
        info: DatasetInfo,
        scores: np.ndarray,
        rows: np.ndarray,
        plots: Path,
        reference: Reference | None = None,
    ) -> Physics:
        return physics.evaluate(data, test, info, scores, rows, plots)
