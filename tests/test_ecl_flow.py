"""The ECL task end to end on a user's own clusters in a ROOT file, firmware included.

The ROOT file is a flat TTree the test writes itself (with clusters from the simulator, 5 x 5
crystals), read back through the card's ``data.user`` section, as a Belle II analyst's ntuple would be.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trigger_nn.card import load_card
from trigger_nn.cli import main
from trigger_nn.dataset import read_dataset
from trigger_nn.tasks.ecl import simulation as ecl
from trigger_nn.tasks.ecl.config import EclPhotonData, Granularity

CARD = """\
name: tiny_ecl
task: ecl_photon
seed: 3
data:
  image_size: 5
  user:
    path: clusters.root       # relative: next to this card
    tree: ecl
    image: [crystalE]
    label: isPhoton
    energy: clusterE
    test_fraction: 0.3
network:
  hidden_units: [8]
training:
  epochs: 6
  batch_size: 64
  learning_rate: 0.005
firmware:
  input_interval_ns: 5.0
  pipeline_cutoff: 3.0
verify:
  n_vectors: 1500
cosim:
  n_vectors: 1500
"""
N_CLUSTERS = 1600


def write_ntuple(path: Path, n: int) -> ecl.Clusters:
    import uproot

    c = ecl.simulate(EclPhotonData(image_size=5, n_train=n, n_test=n), n, np.random.default_rng(0))
    with uproot.recreate(path) as f:
        f.mktree("ecl", {"crystalE": (np.float32, (25,)), "isPhoton": np.int32, "clusterE": np.float32})
        f["ecl"].extend(
            {"crystalE": c.image_mev.reshape(n, 25), "isPhoton": c.label.astype(np.int32), "clusterE": c.energy_gev}
        )
    return c


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ecl.Clusters]:
    root = tmp_path_factory.mktemp("ecl")
    clusters = write_ntuple(root / "clusters.root", N_CLUSTERS)
    card = root / "tiny_ecl.yaml"
    card.write_text(CARD)
    projects = root / "projects"
    assert main(["build", str(card), "--projects", str(projects)]) == 0
    return card, projects / "tiny_ecl", clusters


def test_root_clusters_become_the_dataset(built: tuple[Path, Path, ecl.Clusters]) -> None:
    card, project, clusters = built
    assert load_card(card).data.user.path == card.parent / "clusters.root"
    ds = read_dataset(project / "data" / "dataset.h5")
    assert len(ds.train.y) + len(ds.test.y) == N_CLUSTERS
    assert len(ds.test.y) == round(0.3 * N_CLUSTERS)
    assert ds.train.x.shape[1:] == (5, 5)
    # every row is one of the file's clusters, digitised to the 12-bit word of 5.25 MeV
    words = ecl.digitise(clusters.image_mev, EclPhotonData(image_size=5)).reshape(N_CLUSTERS, -1)
    rows = {w.tobytes(): int(lab) for w, lab in zip(words, clusters.label, strict=True)}
    for x, y in zip(ds.test.x.reshape(len(ds.test.y), -1), ds.test.y, strict=True):
        assert rows[x.tobytes()] == y
    # a user's crystal images carry the crystal view's shower shapes and the GBDT's held-out score, no trigger cells
    assert set(ds.test.truth) >= {"crystal_e1_e9", "crystal_e9_e21", "crystal_z51", "crystal_gbdt", "energy_gev"}
    assert "crystal_gbdt" not in ds.train.truth and not any(k.startswith("trigger_cell") for k in ds.test.truth)


def test_report_sets_the_firmware_against_the_shower_shape_cuts(built: tuple[Path, Path, ecl.Clusters]) -> None:
    _, project, _ = built
    report = json.loads((project / "report.json").read_text())
    assert report["verification"]["passed"]
    assert all(c["mismatches"] == 0 for c in report["verification"]["implementations"])
    lat = report["latency"]
    assert lat["mismatches"] == 0 and lat["ii_cycles"] == 1 and lat["latency_ns"] <= 1600
    phys = report["physics"]["firmware"]
    assert phys["vectors"] == round(0.3 * N_CLUSTERS)
    assert set(phys["baselines"]) == {"GBDT on shower shapes", "E1/E9", "E9/E21", "second moment", "LAT", "|Z51|"}
    assert phys["best_classical"] in phys["baselines"] and phys["view"] == "crystal"
    assert "other_view" not in phys  # a user's crystal images have no trigger-cell view
    for selection in [phys, *phys["baselines"].values()]:
        assert 0.0 <= selection["merged_rejection_at_90pct_photon_eff"] <= 1.0
        assert selection["merged_rejection_at_95pct_photon_eff"] <= selection["merged_rejection_at_90pct_photon_eff"]
    assert phys["auc"] > 0.8
    groups = phys["merged_rejection_by_bumps"]
    assert set(groups["all merged"]) == {"NN (firmware)", *phys["baselines"]}
    assert groups["all merged"]["NN (firmware)"]["90pct"] == pytest.approx(phys["merged_rejection_at_90pct_photon_eff"])
    by_energy = phys["rejection_at_90pct_photon_eff_vs_energy"]["merged"]
    assert sum(by_energy["clusters"]) == phys["merged_clusters"]
    for name in ("rejection.png", "rejection_vs_energy.png", "examples.png"):
        assert (project / "plots" / name).stat().st_size > 10_000
    assert "The best classical selection at 90 % photon efficiency is" in (project / "report.md").read_text()


def test_a_misnamed_branch_is_one_message(tmp_path: Path, built: tuple[Path, Path, ecl.Clusters], capsys) -> None:
    card, _, _ = built
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        CARD.replace("label: isPhoton", "label: is_photon").replace("clusters.root", str(card.parent / "clusters.root"))
    )
    assert main(["simulate", str(bad), "--projects", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no branch 'is_photon'" in err[0] and "isPhoton" in err[0], err
    assert not (tmp_path / "tiny_ecl" / "data" / "dataset.h5").exists()


def test_trigger_cell_view_from_a_card(tmp_path: Path) -> None:
    card = tmp_path / "tc.yaml"
    card.write_text("name: tc_ecl\ntask: ecl_photon\ndata: {granularity: trigger_cell, n_train: 200, n_test: 100}\n")
    assert load_card(card).data.granularity is Granularity.TRIGGER_CELL
    assert main(["simulate", str(card), "--projects", str(tmp_path)]) == 0
    ds = read_dataset(tmp_path / "tc_ecl" / "data" / "dataset.h5")
    assert ds.train.x.shape == (200, 3, 3) and ds.input_kif == (0, 4, 8)
