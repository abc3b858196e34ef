"""The ECL report on simulated clusters: each view against its own classical selections, the hard cases apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trigger_nn.artifacts import DatasetInfo
from trigger_nn.cli import main
from trigger_nn.dataset import Dataset, read_dataset
from trigger_nn.errors import CardError, DataError
from trigger_nn.tasks.ecl import EclTask
from trigger_nn.tasks.ecl import physics as ecl_physics
from trigger_nn.tasks.ecl.baselines import GBDT, gbdt_scores
from trigger_nn.tasks.ecl.config import EclPhotonData, Granularity
from trigger_nn.tasks.ecl.simulation import CLASS_NAMES

SMALL = {"n_train": 3000, "n_test": 2000}


def _info(tmp_path: Path, ds: Dataset) -> DatasetInfo:
    return DatasetInfo(
        path=tmp_path / "d.h5",
        task="ecl_photon",
        n_train=len(ds.train.y),
        n_test=len(ds.test.y),
        input_shape=ds.test.x.shape[1:],
        class_names=CLASS_NAMES,
        seed=1,
        description="",
    )


@pytest.fixture(scope="module", params=[Granularity.CRYSTAL, Granularity.TRIGGER_CELL])
def view(request: pytest.FixtureRequest) -> tuple[EclPhotonData, Dataset]:
    cfg = EclPhotonData(granularity=request.param, **SMALL)
    return cfg, EclTask().dataset(cfg, seed=1)


def test_a_network_as_good_as_the_gbdt_does_not_beat_it(view: tuple[EclPhotonData, Dataset], tmp_path: Path) -> None:
    cfg, ds = view
    prefix = "crystal" if cfg.granularity is Granularity.CRYSTAL else "trigger_cell"
    scores = ds.test.truth[f"{prefix}_gbdt"]  # a "network" that is the view's own GBDT
    n = len(scores)
    found = ecl_physics.evaluate(cfg, ds.test, _info(tmp_path, ds), scores, np.arange(n), tmp_path).metrics
    assert found["view"] == prefix.replace("_", " ")
    assert found["best_classical"] == GBDT  # the multivariate selection beats every single cut
    assert not found["nn_beats_best_classical_at_90pct_photon_eff"]
    for row in found["nn_vs_best_classical"]:
        assert row["nn_90pct"] == row["best_90pct"] and row["nn_95pct"] == row["best_95pct"], row
    # every baseline comes from the network's own view: a 3 x 3 trigger-cell image has no E9/E21
    assert ("E9/E21" in found["baselines"]) == (cfg.granularity is Granularity.CRYSTAL)
    other = "trigger cell" if cfg.granularity is Granularity.CRYSTAL else "crystal"
    assert found["other_view"]["name"] == f"{GBDT}, {other} view"


def test_the_hard_cases_are_counted_apart(view: tuple[EclPhotonData, Dataset], tmp_path: Path) -> None:
    cfg, ds = view
    n = len(ds.test.y)
    physics = ecl_physics.evaluate(cfg, ds.test, _info(tmp_path, ds), np.zeros(n), np.arange(n), tmp_path)
    found = physics.metrics
    merged = ds.test.y == 0
    maxima = ds.test.truth["crystal_n_local_maxima"]
    assert found["single_bump_merged_clusters"] == int(np.sum(merged & (maxima == 1))) > 0
    rows = {r["group"]: r for r in found["nn_vs_best_classical"]}
    assert rows["all merged"]["clusters"] == merged.sum()
    assert rows["single-bump merged"]["clusters"] == found["single_bump_merged_clusters"]
    assert sum(r["clusters"] for g, r in rows.items() if g.endswith("GeV")) == merged.sum()
    # a constant score keeps every cluster at any photon efficiency: it rejects nothing
    assert rows["all merged"]["nn_90pct"] == 0.0
    by_sep = found["rejection_at_90pct_photon_eff_vs_separation_crystals"]
    assert sum(by_sep["clusters"]) == merged.sum()
    seps = ds.test.truth["separation_cm"][merged] / cfg.crystal_size_cm
    assert by_sep["bin_edges"][0] <= seps.min() and by_sep["bin_edges"][-1] > seps.max()
    assert physics.plots["rejection_vs_separation"].stat().st_size > 10_000
    assert any("the absolute rejections belong to that model" in line for line in physics.markdown)


def test_a_card_can_keep_only_single_bump_clusters(tmp_path: Path) -> None:
    card = tmp_path / "bump.yaml"
    card.write_text("name: bump\ntask: ecl_photon\ndata: {single_bump_only: true, n_train: 300, n_test: 200}\n")
    assert main(["simulate", str(card), "--projects", str(tmp_path)]) == 0
    ds = read_dataset(tmp_path / "bump" / "data" / "dataset.h5")
    for split in (ds.train, ds.test):
        assert np.all(split.truth["crystal_n_local_maxima"] == 1)
    assert len(ds.test.y) == 200 and ds.test.y.sum() == 100


def test_a_retired_resolution_key_names_its_replacements(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = tmp_path / "old.yaml"
    card.write_text("name: old\ntask: ecl_photon\ndata: {resolution_stochastic: 0.013}\n")
    assert main(["simulate", str(card), "--projects", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "resolution_stochastic" in err and "resolution_constant_term" in err


def test_views_of_other_clusters_are_not_compared(tmp_path: Path) -> None:
    crystal, cells = EclPhotonData(), EclPhotonData(granularity=Granularity.TRIGGER_CELL, alp_fraction=0.5)
    with pytest.raises(CardError, match="a, b are not built on the same clusters"):
        ecl_physics.compare_views(["a", "b"], [crystal, cells], [{}, {}], tmp_path)


def test_a_gbdt_needs_both_classes() -> None:
    shapes = {"e1_e9": np.linspace(0.1, 0.9, 50, dtype=np.float32)}
    with pytest.raises(DataError, match="the 50 training clusters are all single photons: .*both classes"):
        gbdt_scores(shapes, np.ones(50, dtype=np.int8), shapes, seed=1)
