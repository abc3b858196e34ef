"""Command `scan`: what accuracy each LUT and nanosecond buys, over the card's design space.

Every network of the card's ``scan`` section (by default the card's own) is trained with every HGQ2
resource-regulariser strength (``network.beta``) and every clock period; each point is compiled (the
pipeline cut from its clock), verified bit for bit and synthesised with Yosys. The scan's choice is the
point of fewest Yosys LUTs whose figure of merit is within ``scan.tolerance`` of the best.
Points run in parallel on Dask: a local cluster by default,
or any scheduler the user names (an HTCondor pool through dask-jobqueue, say), whose workers must
see the same filesystem. A worker writes ``point.json`` as soon as its point is done, so an
interrupted scan keeps what finished and a re-run does only the rest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artifacts import (
    CompileResult,
    DatasetInfo,
    ScanPoint,
    SynthResult,
    TrainResult,
    VerifyResult,
    atomic_path,
    to_plain,
)
from .card import Card, NetworkConfig, card_to_dict, describe_network
from .cluster import LOCAL, Cluster, client
from .errors import ArtifactError, BudgetError, CardError, ConversionError, MismatchError, TriggerNNError

log = logging.getLogger(__name__)


class ScanError(TriggerNNError, RuntimeError):
    """Some points of a scan failed for a reason other than the flow refusing them."""


#: what the flow says of a design itself, rather than of the machine it ran on
REFUSALS = (BudgetError, MismatchError, ConversionError)


@dataclass(frozen=True)
class PointSpec:
    beta: float
    clock_period_ns: float
    network: NetworkConfig
    network_index: int | None = None  # its place in scan.networks; None: the card's own network

    @property
    def name(self) -> str:
        net = "" if self.network_index is None else f"net{self.network_index}_"
        return f"{net}beta{self.beta:g}_clk{self.clock_period_ns:g}ns"  # :g, so 2e-6 and 2.5e-6 differ

    @property
    def network_text(self) -> str:
        return describe_network(dataclasses.replace(self.network, beta=self.beta))


def grid(card: Card) -> list[PointSpec]:
    nets = list(enumerate(card.scan.networks)) or [(None, card.network)]
    return [PointSpec(b, c, net, i) for i, net in nets for b in card.scan.beta for c in card.scan.clock_period_ns]


def card_hash(card: Card) -> str:
    """The card as a design point depends on it: everything but the scan section and the file it came from."""
    plain = card_to_dict(card)
    del plain["scan"]
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()


def point_card(card: Card, spec: PointSpec) -> Card:
    return dataclasses.replace(
        card,
        network=dataclasses.replace(spec.network, beta=spec.beta),
        firmware=dataclasses.replace(card.firmware, clock_period_ns=spec.clock_period_ns),
    )


def finished(path: Path, spec: PointSpec, digest: str) -> ScanPoint | None:
    """The point a worker left at ``path``, if it is this spec's under this card."""
    try:
        point = ScanPoint.load(path)
    except ArtifactError:
        return None
    same = (point.beta, point.clock_period_ns, point.card_hash, point.network) == (
        spec.beta,
        spec.clock_period_ns,
        digest,
        spec.network_text,
    )
    return point if same else None


def run_point(card: Card, spec: PointSpec, point_dir: Path, dataset_json: Path) -> ScanPoint:
    """One design, on a Dask worker: train, compile, verify, synthesise; the result is saved before it returns.

    The flow refusing a design (over budget, a clock too fast, not bit-exact, not convertible) is a
    result of the scan, kept like any other. Anything else, a tool that failed or was interrupted
    included, is an error and leaves no ``point.json``, so a re-run tries the point again.
    """
    from . import compile as compile_stage
    from . import synth, train, verify
    from ._deps import import_tensorflow
    from .dataset import read_dataset
    from .tasks import get_task

    import_tensorflow()
    pcard = point_card(card, spec)
    (point_dir / "data").mkdir(parents=True, exist_ok=True)
    _share_dataset(dataset_json.parent, point_dir / "data")
    handler = logging.FileHandler(point_dir / "scan.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    logging.getLogger("trigger_nn").addHandler(handler)
    logging.getLogger("trigger_nn").setLevel(logging.INFO)
    t0 = time.perf_counter()
    common = {
        "beta": spec.beta,
        "clock_period_ns": spec.clock_period_ns,
        "card_hash": card_hash(card),
        "network": spec.network_text,
    }
    task = get_task(pcard.task)
    headline = task.headline(pcard.data)
    try:
        for stage in (train.run, compile_stage.run, verify.run, synth.run):
            stage(pcard, point_dir)
        verified = VerifyResult.load(point_dir / "verify.json")
        compiled = CompileResult.load(point_dir / "compile.json")
        synthesised = SynthResult.load(point_dir / "synth.json")
        info = DatasetInfo.load(point_dir / "data" / "dataset.json")
        scores, rows = verified.vectors().test_set_outputs()
        found = task.evaluate(pcard.data, read_dataset(info.path).test, info, scores, rows, point_dir / "plots")
        point = ScanPoint(
            **common,
            status="ok",
            metric_name=headline.label,
            metric=float(found.metrics[headline.key]),
            metric_error=None if headline.error_key is None else float(found.metrics[headline.error_key]),
            vectors=int(len(scores)),
            luts=synthesised.luts,
            ffs=synthesised.ffs,
            dsps=synthesised.dsps,
            ebops=TrainResult.load(point_dir / "train" / "training.json").ebops,
            latency_cycles=compiled.stages.latency_cycles,
            latency_ns=compiled.stages.latency_ns,
            stage_margin_ns=synthesised.depth.margin_ns,
            seconds=time.perf_counter() - t0,
        )
    except REFUSALS as err:
        log.warning("scan point %s refused: %s", spec.name, err)
        point = ScanPoint(**common, status="refused", message=str(err), seconds=time.perf_counter() - t0)
    finally:
        logging.getLogger("trigger_nn").removeHandler(handler)
        handler.close()
    point.save(point_dir / "point.json")
    return point


def _share_dataset(source: Path, target: Path) -> None:
    """The scan's one dataset in a point's folder: its description copied, the HDF5 file linked (or copied)."""
    for name in ("dataset.h5", "dataset.json"):
        (target / name).unlink(missing_ok=True)
    try:
        os.link(source / "dataset.h5", target / "dataset.h5")
    except OSError:  # another filesystem, or one without hard links
        shutil.copyfile(source / "dataset.h5", target / "dataset.h5")
    shutil.copyfile(source / "dataset.json", target / "dataset.json")


def pareto(points: Sequence[ScanPoint]) -> list[bool]:
    """Which points no other beats or equals on all of metric (higher), LUTs and latency (lower)."""

    def key(p: ScanPoint) -> tuple[float, float, float]:
        return (-p.metric, p.luts, p.latency_ns)  # type: ignore[operator]

    ok = [p.status == "ok" for p in points]
    keys = [key(p) if good else None for p, good in zip(points, ok, strict=True)]
    front = []
    for i, ki in enumerate(keys):
        dominated = ki is None or any(
            kj is not None and j != i and all(a <= b for a, b in zip(kj, ki, strict=True)) and kj != ki
            for j, kj in enumerate(keys)
        )
        front.append(not dominated)
    return front


def _without_beta(network: str) -> str:
    return re.sub(r", beta [^;)]*", "", network)


def choose(points: Sequence[ScanPoint], tolerance: float) -> ScanPoint | None:
    """The scan's choice: the fewest Yosys LUTs (then the shortest latency) among the points whose figure of
    merit is within ``tolerance`` of the best; None when every point was refused."""
    ok = [p for p in points if p.status == "ok"]
    if not ok:
        return None
    best = max(p.metric for p in ok)  # type: ignore[type-var]
    near = [p for p in ok if p.metric >= best - tolerance]  # type: ignore[operator]
    return min(near, key=lambda p: (p.luts, p.latency_ns, -p.metric))  # type: ignore[arg-type, return-value]


def _error_note(points: Sequence[ScanPoint]) -> str:
    errors = [p.metric_error for p in points if p.metric_error is not None and p.metric_error == p.metric_error]
    if not errors:
        return ""
    return (
        f" The figure of merit's statistical error (±, the task's own estimate) is {min(errors):.4f} to "
        f"{max(errors):.4f}: points closer than that are not told apart by this measurement, whatever the tolerance."
    )


def _table(points: Sequence[ScanPoint], front: Sequence[bool], chosen: ScanPoint | None) -> list[str]:
    label = next((p.metric_name for p in points if p.metric_name), "metric")
    lines = [
        f"| network | beta | clock (ns) | {label} | LUTs | FFs | DSPs | EBOPs | latency | slowest-stage margin (ns) | "
        "verified vectors | Pareto |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p, best in sorted(zip(points, front, strict=True), key=lambda t: (t[0].status != "ok", t[0].luts or 0)):
        net = _without_beta(p.network)  # beta has its own column
        if p.status != "ok":
            lines.append(f"| {net} | {p.beta:.0e} | {p.clock_period_ns:g} | refused: {p.message} | | | | | | | | |")
            continue
        mark = " (**the choice**)" if p is chosen else ""
        error = "" if p.metric_error is None else f" ± {p.metric_error:.4f}"
        lines.append(
            f"| {net}{mark} | {p.beta:.0e} | {p.clock_period_ns:g} | {p.metric:.4f}{error} | {p.luts} | {p.ffs} | "
            f"{p.dsps} | {p.ebops:.0f} | {p.latency_cycles} cycles = {p.latency_ns:g} ns | "
            f"{p.stage_margin_ns:+.2f} | {p.vectors} | {'**yes**' if best else ''} |"
        )
    return lines


def _plot(path: Path, points: Sequence[ScanPoint], front: Sequence[bool]) -> None:
    from .tasks.common import figure

    ok = [(p, best) for p, best in zip(points, front, strict=True) if p.status == "ok"]
    if not ok:
        log.warning("scan: every point was refused; no Pareto plot (the table in scan.md says why)")
        return
    latencies = [p.latency_ns for p, _ in ok]
    with figure(path, 1, 2, figsize=(11, 4.2), sharey=True) as (fig, axes):
        for ax, x, xlabel in (
            (axes[0], [p.luts for p, _ in ok], "LUTs (Yosys synth_xilinx)"),
            (axes[1], latencies, "latency (ns): da4ml pipeline depth x clock"),
        ):
            sc = ax.scatter(x, [p.metric for p, _ in ok], c=latencies, cmap="viridis", s=50, zorder=3)
            ax.scatter(
                [xi for xi, (_, b) in zip(x, ok, strict=True) if b],
                [p.metric for p, b in ok if b],
                s=160, facecolors="none", edgecolors="crimson", linewidths=1.5, zorder=4, label="Pareto front",
            )  # fmt: skip
            for xi, (p, _) in zip(x, ok, strict=True):
                tables = " LUT" if "table (LUT) layers" in p.network else ""
                label = f"{p.network.split(' ')[0]}{tables} β={p.beta:.0e}\n{p.clock_period_ns:g} ns"
                ax.annotate(label, (xi, p.metric), fontsize=7, xytext=(4, 4), textcoords="offset points")
            ax.set_xlabel(xlabel)
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel(ok[0][0].metric_name)
        axes[0].legend(loc="lower right")
        fig.colorbar(sc, ax=axes[1], label="latency (ns)")
        fig.suptitle("Design scan: firmware outputs (verified bit-exact) vs resources and latency")


def summarise(card: Card, scan_dir: Path, points: Sequence[ScanPoint]) -> Path:
    """``scan.json``, ``scan.md`` and ``pareto.png`` in ``scan_dir``."""
    front = pareto(points)
    chosen = choose(points, card.scan.tolerance)
    _plot(scan_dir / "pareto.png", points, front)
    with atomic_path(scan_dir / "scan.json") as tmp:
        rows = [to_plain(p) | {"pareto": best, "chosen": p is chosen} for p, best in zip(points, front, strict=True)]
        tmp.write_text(
            json.dumps({"card": card.name, "tolerance": card.scan.tolerance, "points": rows}, indent=2) + "\n"
        )
    n_ok = sum(p.status == "ok" for p in points)
    nets = [_without_beta(describe_network(n)) for n in card.scan.networks] or ["the card's own network"]
    choice = (
        "Every point was refused: there is no choice."
        if chosen is None
        else f"**The choice** (the fewest Yosys LUTs among the points within {card.scan.tolerance:g} of the best "
        f"{chosen.metric_name}, {max(p.metric for p in points if p.status == 'ok'):.4f}; `scan.tolerance`): "
        f"{chosen.network}, clock {chosen.clock_period_ns:g} ns: {chosen.metric_name} {chosen.metric:.4f}, "
        f"{chosen.luts} LUTs, {chosen.latency_ns:g} ns."
    )
    lines = [
        f"# Design scan of {card.name}: {len(points)} points, {n_ok} built",
        "",
        f"Networks: {'; '.join(nets)}; HGQ2 resource regulariser beta in {list(card.scan.beta)} x clock period in "
        f"{list(card.scan.clock_period_ns)} ns. Each point was trained, compiled (pipeline cut from its clock), "
        "verified bit for bit (HLS C simulation and da4ml Verilog in Verilator against the Python reference) "
        "and synthesised with Yosys synth_xilinx. The figure of merit is computed on the verified firmware outputs; "
        "LUTs/FFs/DSPs are Yosys' mapped counts; latency is da4ml's pipeline depth times the clock (what cosim "
        "measures; `trigger-nn build` of a chosen point co-simulates it); the stage margin is Yosys' longest "
        "flip-flop-to-flip-flop path timed with the delay model of `trigger_nn.firmware.timing` (an estimate). "
        "A point is on the Pareto front when no other point is at least as good in the figure of merit, LUTs and "
        "latency at once." + _error_note(points),
        "",
        choice,
        "",
        *_table(points, front, chosen),
        "",
        "![Pareto front](pareto.png)",
        "",
    ]
    with atomic_path(scan_dir / "scan.md") as tmp:
        tmp.write_text("\n".join(lines))
    return scan_dir / "scan.md"


def run(card: Card, projects: Path, cluster: Cluster = LOCAL) -> list[ScanPoint]:
    from . import project_lock
    from .tasks import get_task

    refusal = get_task(card.task).scan_refusal(card.data)
    if refusal is not None:
        raise CardError(f"{card.name} cannot be scanned: {refusal}")
    scan_dir = Path(projects) / f"{card.name}_scan"
    with project_lock.hold(scan_dir, f"scan {card.source or card.name}"):
        return _run(card, scan_dir, cluster)


def _run(card: Card, scan_dir: Path, cluster: Cluster) -> list[ScanPoint]:
    from dask.distributed import as_completed
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from . import simulate

    digest = card_hash(card)
    specs = grid(card)
    done = {s: p for s in specs if (p := finished(scan_dir / s.name / "point.json", s, digest)) is not None}
    todo = [s for s in specs if s not in done]
    log.info("scan of %s: %d points, %d already done, %d to run", card.name, len(specs), len(done), len(todo))

    if todo:
        dataset_json = _dataset(card, scan_dir, simulate.run)
        with client(cluster, "scan") as dask_client:
            futures = {
                dask_client.submit(run_point, card, s, scan_dir / s.name, dataset_json, key=f"{s.name}-{digest[:8]}"): s
                for s in todo
            }
            failed = []
            columns = (TextColumn("scan"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, transient=False) as progress:
                bar = progress.add_task("points", total=len(specs), completed=len(done))
                for future in as_completed(futures):
                    spec = futures[future]
                    try:
                        point = future.result()
                    except Exception as err:  # an internal failure: no point.json, so a re-run tries it again
                        failed.append(f"{spec.name}: {type(err).__name__}: {err}")
                        log.error("scan point %s failed: %s: %s", spec.name, type(err).__name__, err)
                    else:
                        done[spec] = point
                        log.info("scan point %s: %s", spec.name, _one_line(point))
                    progress.advance(bar)
        if failed:
            raise ScanError(f"{len(failed)} scan point(s) failed; finished ones are kept, re-run to retry: {failed}")

    points = [done[s] for s in specs]
    log.info("scan summary: %s", summarise(card, scan_dir, points))
    return points


def _one_line(p: ScanPoint) -> str:
    if p.status != "ok":
        return f"refused ({p.message})"
    return f"{p.metric_name} {p.metric:.4f}, {p.luts} LUTs, {p.latency_ns:g} ns, {p.seconds:.0f} s"


def _dataset(card: Card, scan_dir: Path, simulate_run: Any) -> Path:
    """The scan's one dataset: every point trains and is measured on the same events."""
    from . import provenance

    if provenance.stale_reason(card, scan_dir, "simulate") is not None:
        log.info("scan: simulating the dataset once for every point")
        simulate_run(card, scan_dir)
    return scan_dir / "data" / "dataset.json"
