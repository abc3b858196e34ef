"""`trigger-nn compare`: the crystal and the trigger-cell view of the same clusters, built small, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trigger_nn.cli import main

CARD = """\
name: {name}
task: ecl_photon
seed: 5
data: {{granularity: {view}, n_train: 600, n_test: 400, image_size: 5}}
network: {{hidden_units: [8]}}
training: {{epochs: 4, batch_size: 64}}
firmware: {{pipeline_cutoff: 3.0}}
verify: {{n_vectors: 400}}
cosim: {{n_vectors: 400}}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("views")
    cards = []
    for name, view in (("crystals", "crystal"), ("cells", "trigger_cell")):
        card = root / f"{name}.yaml"
        card.write_text(CARD.format(name=name, view=view))
        assert main(["build", str(card), "--projects", str(root / "projects")]) == 0
        cards.append(card)
    return cards[0], cards[1], root / "projects"


def test_both_views_side_by_side(built: tuple[Path, Path, Path]) -> None:
    crystals, cells, projects = built
    assert main(["compare", str(crystals), str(cells), "--projects", str(projects)]) == 0
    out = projects / "compare_crystals_cells"
    summary = json.loads((out / "compare.json").read_text())
    assert summary["cards"] == ["crystals", "cells"]
    rows = summary["physics"]["selections"]
    assert [(r["card"], r["selection"]) for r in rows][:2] == [
        ("crystals", "NN (firmware)"),
        ("crystals", "GBDT on shower shapes"),
    ]
    assert {r["view"] for r in rows} == {"crystal", "trigger cell"}
    # the figures are the reports' own: the networks' rejections equal what each report says
    for name in ("crystals", "cells"):
        report = json.loads((projects / name / "report.json").read_text())["physics"]["firmware"]
        nn = next(r for r in rows if r["card"] == name and r["selection"] == "NN (firmware)")
        assert nn["all merged_90pct"] == pytest.approx(report["merged_rejection_at_90pct_photon_eff"])
        assert (
            summary["firmware"][name]["source_hash_sha256"]
            == json.loads((projects / name / "report.json").read_text())["source_hash_sha256"]
        )
    assert (out / "plots" / "rejection_vs_separation.png").stat().st_size > 10_000
    assert "Both views of the same clusters" in (out / "compare.md").read_text()


def test_cards_of_other_clusters_are_refused(built: tuple[Path, Path, Path], tmp_path: Path, capsys) -> None:
    crystals, cells, projects = built
    other = tmp_path / "cells.yaml"  # the same name, other clusters: its report is stale for this card
    other.write_text(cells.read_text().replace("seed: 5", "seed: 6"))
    assert main(["compare", str(crystals), str(other), "--projects", str(projects)]) == 1
    err = capsys.readouterr().err
    assert "`trigger-nn compare` needs what `trigger-nn report` writes" in err and "trigger-nn build" in err


def test_one_card_is_not_a_comparison(built: tuple[Path, Path, Path], capsys) -> None:
    crystals, _, projects = built
    assert main(["compare", str(crystals), "--projects", str(projects)]) == 1
    assert "two or more cards" in capsys.readouterr().err
