"""Belle II ECL clusters: single photons vs merged two-photon clusters (pi0 / ALP -> gamma gamma).

``config`` is the card section, ``simulation`` the cluster simulator, ``clusters_file`` the reader of
a user's own clusters, ``shower_shapes`` the shape variables of each view, ``baselines`` the classical
selections made of them, ``physics`` the report section.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ...artifacts import DatasetInfo
from ...dataset import Dataset, Split
from ...errors import CardError
from ..common import simulate_splits
from ..protocol import Headline, Physics, Reference, TrainedFromData
from . import physics, simulation
from .baselines import gbdt_scores, truth_key
from .clusters_file import check_words, read_clusters
from .config import EclPhotonData
from .shower_shapes import CRYSTAL, TRIGGER_CELL, View, shower_shapes

log = logging.getLogger(__name__)


def _views(data: EclPhotonData) -> tuple[View, ...]:
    """The views whose baselines a dataset carries: both for simulated clusters, crystals for a user's images."""
    return (CRYSTAL,) if data.user is not None else (CRYSTAL, TRIGGER_CELL)


def _with_baselines(
    data: EclPhotonData, seed: int, splits: dict[str, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]
) -> dict[str, Split]:
    """Splits of (x, y, truth) with each view's shower shapes in their truth and, for the test clusters, the
    score of that view's GBDT trained on the training clusters. ``truth`` holds the images per view (MeV)
    under ``images:<view name>``; they are replaced by their shapes."""
    out: dict[str, dict[str, np.ndarray]] = {name: {} for name in splits}
    for view in _views(data):
        shapes = {name: shower_shapes(truth[f"images:{view.name}"], view) for name, (_, _, truth) in splits.items()}
        for name in splits:
            out[name] |= {truth_key(view, k): v for k, v in shapes[name].items()}
        train_y = splits["train"][1]
        out["test"][truth_key(view, "gbdt")] = gbdt_scores(shapes["train"], train_y, shapes["test"], seed)
    return {
        name: Split(x=x, y=y, truth={k: v for k, v in truth.items() if not k.startswith("images:")} | out[name])
        for name, (x, y, truth) in splits.items()
    }


def _simulated(data: EclPhotonData, seed: int) -> Dataset:
    def split(c: simulation.Clusters) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        truth = {
            f"images:{CRYSTAL.name}": c.image_mev,
            f"images:{TRIGGER_CELL.name}": c.tc_image_mev,
            "energy_gev": c.energy_gev,
            "source": c.source,
            "opening_angle_rad": c.opening_angle,
            "separation_cm": c.separation_cm,
        }
        return c.x, c.label, truth

    train, test = simulate_splits(simulation.simulate, data, seed, "clusters (ecl_photon)")
    return Dataset(
        **_with_baselines(data, seed, {"train": split(train), "test": split(test)}),
        input_kif=simulation.input_format(data),
        class_names=simulation.CLASS_NAMES,
    )


def _from_file(data: EclPhotonData, seed: int) -> Dataset:
    assert data.user is not None
    clusters = read_clusters(data.user, data.image_size)
    words = check_words(clusters.images_mev, data)
    n = len(clusters.is_photon)
    rows = np.arange(n)
    if data.single_bump_only:
        rows = np.flatnonzero(simulation.single_bump(clusters.images_mev))
        log.info("data.single_bump_only: %d of the %d user clusters have one local maximum", rows.size, n)
        if rows.size < 2:
            raise CardError(
                f"data.single_bump_only: only {rows.size} of the {n} clusters in {data.user.path} "
                "have one local maximum; set data.single_bump_only: false"
            )
    order = rows[np.random.default_rng(seed).permutation(rows.size)]
    n_test = max(1, round(rows.size * data.user.test_fraction))
    parts = {"test": order[:n_test], "train": order[n_test:]}
    log.info(
        "read %d user clusters from %s: %d for training, %d for testing", n, data.user.path, rows.size - n_test, n_test
    )
    unknown = np.full(n, np.nan, dtype=np.float32)
    splits = {
        name: (
            simulation.digitise(clusters.images_mev[idx], data),
            clusters.is_photon[idx],
            {
                f"images:{CRYSTAL.name}": clusters.images_mev[idx],
                "energy_gev": clusters.energy_gev[idx],
                "source": np.full(len(idx), -1, dtype=np.int8),
                "opening_angle_rad": unknown[idx],
                "separation_cm": unknown[idx],
                "crystals_below_zero": words.below_zero[idx],
                "crystals_above_top": words.above_top[idx],
            },
        )
        for name, idx in parts.items()
    }
    return Dataset(
        **_with_baselines(data, seed, splits),
        input_kif=simulation.input_format(data),
        class_names=simulation.CLASS_NAMES,
    )


class EclTask(TrainedFromData):
    data_type = EclPhotonData

    def dataset(self, data: EclPhotonData, seed: int) -> Dataset:
        return _simulated(data, seed) if data.user is None else _from_file(data, seed)

    def describe(self, data: EclPhotonData) -> str:
        return simulation.description(data)

    def headline(self, data: EclPhotonData) -> Headline:
        return Headline(label="merged rejection at 90 % photon eff.", key="merged_rejection_at_90pct_photon_eff",
                        error_key="merged_rejection_at_90pct_photon_eff_error")  # fmt: skip

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

    def compare(
        self, names: list[str], datas: list[EclPhotonData], found: list[dict[str, Any]], plots: Path
    ) -> Physics | None:
        return physics.compare_views(names, datas, found, plots)
