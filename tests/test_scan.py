"""`trigger-nn scan`: four designs of a small card (two architectures) on a local Dask cluster, interrupted and
resumed; the scan's choice."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trigger_nn import scan
from trigger_nn.artifacts import ScanPoint
from trigger_nn.card import card_from_dict, load_card
from trigger_nn.cluster import Cluster
from trigger_nn.errors import CardError

SCAN_CARD = """\
name: tiny_scan
task: cdms_lfn
seed: 11
data:
  n_train: 2000
  window: 16
  trace_length: 128
  of_length: 64
  baseline_samples: 4
  stream_seconds: 20
network:
  hidden_units: [6]
training:
  epochs: 4
  batch_size: 128
verify:
  n_vectors: 3000
scan:
  networks:
    - {architecture: mlp, hidden_units: [6]}
    - {architecture: cnn1d, filters: [2], kernel_size: 4, strides: 2, dense_units: [4]}
  beta: [3.0e-3]
  clock_period_ns: [5.0, 2.0]  # 1.25 ns is too fast for its widest negate-and-ReLU (refused)
"""


def _point(metric: float, luts: int, latency_ns: float, status: str = "ok") -> ScanPoint:
    if status != "ok":
        return ScanPoint(beta=1e-3, clock_period_ns=1.0, card_hash="x", status=status, message="over budget")
    return ScanPoint(
        beta=0.0, clock_period_ns=5.0, card_hash="x", status=status, metric_name="AUC", metric=metric, vectors=1000,
        luts=luts, ffs=luts // 4, dsps=0, ebops=10.0 * luts, latency_cycles=int(latency_ns / 5), latency_ns=latency_ns,
        stage_margin_ns=0.2,
    )  # fmt: skip


def test_the_pareto_front_keeps_what_nothing_beats_on_every_axis() -> None:
    points = [
        _point(0.90, 100, 10.0),
        _point(0.80, 50, 10.0),  # fewer LUTs
        _point(0.80, 100, 10.0),  # beaten by the first on the metric, equal elsewhere
        _point(0.95, 200, 20.0),  # the best metric
        _point(0.99, 10, 5.0, status="refused"),  # a refused point is never on the front
        _point(0.90, 100, 10.0),  # a tie with the first: neither beats the other
    ]
    assert scan.pareto(points) == [True, True, False, True, False, True]


def test_the_summary_plots_what_was_built_and_tables_what_was_refused(tmp_path: Path) -> None:
    card = card_from_dict({"name": "m", "task": "cdms_lfn"})
    points = [_point(0.9, 100, 10.0), _point(0.8, 50, 20.0), _point(0.0, 0, 0.0, status="refused")]
    scan.summarise(card, tmp_path, points)
    assert (tmp_path / "pareto.png").stat().st_size > 10_000
    assert "refused" in (tmp_path / "scan.md").read_text()
    assert [row["pareto"] for row in json.loads((tmp_path / "scan.json").read_text())["points"]] == [True, True, False]
    (tmp_path / "pareto.png").unlink()
    scan.summarise(card, tmp_path, points[2:])  # nothing built: a table, no plot
    assert not (tmp_path / "pareto.png").exists() and "0 built" in (tmp_path / "scan.md").read_text()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"beta": []}, "scan.beta must be a non-empty list"),
        ({"beta": [1e-5, 1e-5]}, "distinct"),
        ({"clock_period_ns": [5.0, 0.0]}, "scan.clock_period_ns must be a non-empty list of distinct values"),
        ({"betas": [1e-5]}, "unknown key 'betas'; did you mean 'beta'?"),
    ],
)
def test_a_bad_scan_section_is_named(section: dict, message: str) -> None:
    with pytest.raises(CardError, match=message):
        card_from_dict({"name": "m", "task": "cdms_lfn", "scan": section})


def test_the_choice_is_the_fewest_luts_within_the_tolerance_of_the_best() -> None:
    points = [_point(0.950, 300, 10.0), _point(0.946, 120, 10.0), _point(0.944, 80, 10.0), _point(0.99, 5, 5.0, "no")]
    assert scan.choose(points, 0.005) is points[1]  # 0.944 is 0.006 below the best built point
    assert scan.choose(points, 0.0) is points[0]
    assert scan.choose(points, 0.01) is points[2]
    assert scan.choose(points[3:], 0.01) is None


def test_scan_networks_are_network_sections() -> None:
    card = card_from_dict({"name": "m", "task": "cdms_lfn", "scan": {"beta": [1e-5], "clock_period_ns": [5.0],
        "networks": [{"hidden_units": [4]}, {"architecture": "cnn1d", "lut_layers": True}]}})  # fmt: skip
    specs = scan.grid(card)
    assert [s.name for s in specs] == ["net0_beta1e-05_clk5ns", "net1_beta1e-05_clk5ns"]
    cnn = scan.point_card(card, specs[1]).network
    assert (cnn.architecture, cnn.lut_layers, cnn.beta) == ("cnn1d", True, 1e-5)
    assert [s.name for s in scan.grid(card_from_dict({"name": "m", "task": "cdms_lfn"}))][0] == "beta1e-06_clk5ns"
    close = card_from_dict({"name": "m", "task": "cdms_lfn", "scan": {"beta": [2e-6, 2.5e-6]}})
    assert len({s.name for s in scan.grid(close)}) == 4  # two betas x two clocks, each its own folder
    with pytest.raises(CardError, match=r"scan.networks\[1\].filters belongs to architecture cnn1d and cnn2d"):
        card_from_dict({"name": "m", "task": "cdms_lfn", "scan": {"networks": [{}, {"filters": [2]}]}})
    with pytest.raises(CardError, match=r"scan.networks\[0\]: network.hidden_units\[0\] must be positive"):
        card_from_dict({"name": "m", "task": "cdms_lfn", "scan": {"networks": [{"hidden_units": [0]}]}})


def _points(scan_dir: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in scan_dir.glob("*/point.json")}


def _ctrl_c_stops() -> None:
    """Ctrl-C as in a terminal, even when the suite itself runs as a background job (which ignores SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_scan_resumes_after_an_interruption_and_writes_the_pareto_plot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    card_path = tmp_path / "scan.yaml"
    card_path.write_text(SCAN_CARD)
    projects = tmp_path / "projects"
    scan_dir = projects / "tiny_scan_scan"
    command = [sys.executable, "-m", "trigger_nn.cli", "scan", str(card_path), "--projects", str(projects)]

    # Interrupt as Ctrl-C would (SIGINT to the whole process group) once the first point is finished.
    with open(tmp_path / "first.log", "w") as out:
        first = subprocess.Popen(
            [*command, "--workers", "2"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_ctrl_c_stops,
        )  # fmt: skip
        deadline = time.monotonic() + 900
        while not _points(scan_dir) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(1)
        assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        os.killpg(first.pid, signal.SIGINT)
        try:  # the workers finish the build step they are in (Yosys, g++) first
            code = first.wait(timeout=480)
        finally:
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGKILL)
        said = (tmp_path / "first.log").read_text()
        assert code == 130, said[-3000:]
    # one line says so; no worker's traceback, no Dask shutdown chatter
    assert "trigger-nn scan: interrupted" in said
    for noise in ("Traceback", "KeyboardInterrupt", "Nanny", "distributed.", "leaked semaphore"):
        assert noise not in said, said[-3000:]
    kept = _points(scan_dir)
    assert 1 <= len(kept) < 4

    # Resume on a Dask scheduler given by address: only the unfinished points run.
    from dask.distributed import LocalCluster

    caplog.set_level(logging.INFO, logger="trigger_nn")
    card = load_card(card_path)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        points = scan.run(card, projects, Cluster(scheduler=cluster.scheduler_address))
    assert f"4 points, {len(kept)} already done, {4 - len(kept)} to run" in caplog.text
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items()), "a finished point was redone"
    assert len(_points(scan_dir)) == 4

    architectures = [p.network.split(" ")[0] for p in points]
    assert [(a, p.clock_period_ns) for a, p in zip(architectures, points, strict=True)] == [
        (a, c) for a in ("mlp", "cnn1d") for c in (5.0, 2.0)
    ]  # fmt: skip
    for p in points:
        assert p.status == "ok", p.message
        assert p.beta == 3e-3 and "beta 0.003" in p.network  # the scan's beta, not the network section's
        assert p.vectors >= 1000 and p.luts > 0 and p.ebops > 0 and p.metric is not None
        assert p.metric_error is not None and 0 < p.metric_error < 1  # the headline's bootstrap error
        assert p.latency_ns == p.latency_cycles * p.clock_period_ns
    by_clock = {(a, p.clock_period_ns): p.latency_cycles for a, p in zip(architectures, points, strict=True)}
    for a in ("mlp", "cnn1d"):  # a faster clock holds fewer adder levels per stage: more stages
        assert by_clock[(a, 2.0)] > by_clock[(a, 5.0)]

    summary = json.loads((scan_dir / "scan.json").read_text())
    assert len(summary["points"]) == 4 and any(row["pareto"] for row in summary["points"])
    assert scan.pareto(points) == [row["pareto"] for row in summary["points"]]
    chosen = [p for p, row in zip(points, summary["points"], strict=True) if row["chosen"]]
    assert chosen == [scan.choose(points, 0.005)]
    md = (scan_dir / "scan.md").read_text()
    assert sum(line.startswith("| cnn1d (filters [2]") for line in md.splitlines()) == 2
    assert "**The choice** (the fewest Yosys LUTs among the points within 0.005 of the best" in md
    assert f"{points[0].metric:.4f} ± {points[0].metric_error:.4f}" in md and "statistical error" in md
    assert (scan_dir / "pareto.png").stat().st_size > 10_000

    # Everything done: a re-run starts no cluster and changes no point.
    caplog.clear()
    again = scan.run(card, projects, Cluster(scheduler="tcp://127.0.0.1:1"))  # would fail to connect if it tried
    assert "4 already done, 0 to run" in caplog.text and again == points
