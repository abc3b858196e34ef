"""SuperCDMS: the trigger threshold at the card's accidental-rate budget, OF + NN against the best classical trigger.

Every figure comes from the measurement stream's scan (``windows.measurement_scan``: the fixed-point
FIR, its candidates, the classical vetoes), with the network's score on each candidate's window taken
from the firmware (the test-set vectors verify found bit-identical in every implementation). The
network enters as one more veto (``thresholds.operating_point``): its cut is chosen like the
classical vetoes' cuts, and its threshold by the same budget.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...artifacts import DatasetInfo
from ...dataset import Split
from ...errors import CardError
from ..common import NN, binary_classifier, binned_fraction, figure, metric_table
from ..protocol import Physics, Reference
from . import windows
from .chain import Chain
from .config import CdmsLfnData
from .thresholds import (
    OF_ALONE,
    OperatingPoint,
    OverBudget,
    Scan,
    ScoreVeto,
    best_classical,
    classical_vetoes,
    operating_point,
    scan_streams,
)

#: budgets (Hz) the report's second table shows, besides the card's
BUDGETS_HZ = (0.1, 0.3, 1.0, 3.0, 10.0)
BOOTSTRAP = 30
#: the LFN table: each parameter moved alone from the card's (assumptions spanning a factor ~3 each way)
LFN_RATES_HZ = (0.3, 3.0)
LFN_SCALES_SIGMA = (1.0, 4.0)
LFN_BANDS_HZ = ((100.0, 1000.0), (1000.0, 10000.0))
LFN_TABLE_SECONDS = 200.0


def firmware_scores(scan: Scan, scores: np.ndarray, rows: np.ndarray, n_test: int) -> np.ndarray:
    """The firmware's score of every test window, by row; every window must have been verified."""
    full = np.full(n_test, np.nan)
    full[rows] = np.asarray(scores, dtype=np.float64).reshape(-1)
    missing = int(np.isnan(full).sum())
    if missing:
        raise CardError(
            f"verify checked {len(rows)} of the {n_test} candidate windows of the measurement stream, and the "
            f"trigger's figures need the firmware's score on every one: set verify.n_vectors to at least {n_test}"
        )
    return full


def _points(scan: Scan, budget_hz: float, *, bootstrap: int = 0) -> dict[str, OperatingPoint | None]:
    """OF alone, OF + each veto of the scan (the network's last): None where no grid threshold fits the budget."""
    out: dict[str, OperatingPoint | None] = {}
    for veto in (None, *scan.veto_names):
        try:
            p = operating_point(scan, budget_hz, veto, bootstrap=bootstrap)
        except OverBudget:
            p = None
        out[OF_ALONE if veto is None else f"OF + {veto}"] = p
    return out


def _best_classical(points: dict[str, OperatingPoint | None]) -> OperatingPoint | None:
    classical = [p for name, p in points.items() if p is not None and name != f"OF + {NN}"]
    return best_classical(classical) if classical else None


def _reduction(nn: OperatingPoint | None, best: OperatingPoint | None) -> float:
    if nn is None or best is None:
        return float("nan")
    return 1.0 - nn.e50_sigma / best.e50_sigma


def _reduction_error(nn: OperatingPoint | None, best: OperatingPoint | None) -> float:
    """The reduction's statistical error from the two E50s' bootstrap errors, taken as independent: an upper
    estimate, since both are measured on the same injected pulses and streams."""
    if nn is None or best is None:
        return float("nan")
    ratio = nn.e50_sigma / best.e50_sigma
    a, b = nn.efficiency.e50_error_sigma / nn.e50_sigma, best.efficiency.e50_error_sigma / best.e50_sigma
    return float(ratio * np.hypot(a, b))


def _point_metrics(p: OperatingPoint | None, at_grid_bottom: float) -> dict[str, Any] | None:
    if p is None:
        return None
    lo, hi = p.noise.interval_hz, p.lfn.interval_hz
    return {
        "threshold_sigma": p.threshold_sigma,
        "threshold_range_sigma": list(p.threshold_range_sigma),
        "at_grid_bottom": p.threshold_sigma <= at_grid_bottom,
        "cut": p.cut,
        "keep_fraction": p.keep_fraction,
        "noise_hz": p.noise.hz,
        "noise_interval_hz": list(lo),
        "noise_count": p.noise.count,
        "lfn_hz": p.lfn.hz,
        "lfn_interval_hz": list(hi),
        "lfn_count": p.lfn.count,
        "lfn_episodes": p.lfn_episodes,
        "total_hz": p.total_hz,
        "rice_noise_hz": p.rice_noise_hz,
        "e50_sigma": p.e50_sigma,
        "e50_error_sigma": p.efficiency.e50_error_sigma,
        "e99_sigma": p.e99_sigma,
        "e99_why": p.efficiency.e99_why,
        "plateau": p.efficiency.turn_on.plateau,
        "high_energy_pass": p.efficiency.plateau_pass,
        "pulses": p.efficiency.pulses,
    }


def scan_with_network(cfg: CdmsLfnData, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray
                      ) -> Scan:  # fmt: skip
    """The measurement scan the test set carries, with the firmware's score on each candidate as the NN veto."""
    scan = windows.scan_from_truth(cfg, info.seed, test.truth)
    return scan.with_veto(NN, -firmware_scores(scan, scores, rows, len(test.x))[scan.window])


def nn_operating_point(cfg: CdmsLfnData, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray
                       ) -> OperatingPoint:  # fmt: skip
    """OF + NN at the card's budget, from the firmware's scores (the point ``evaluate`` reports)."""
    return operating_point(scan_with_network(cfg, test, info, scores, rows), cfg.accidental_budget_hz, NN)


@dataclass(frozen=True, kw_only=True)
class LfnVariant:
    """One LFN model of the table: what differs from the card's, and the three triggers' E50 on it."""

    label: str
    lfn_rate_hz: float
    lfn_of_scale_sigma: float
    lfn_band_hz: tuple[float, float]
    points: dict[str, OperatingPoint | None]


def lfn_variants(cfg: CdmsLfnData) -> list[tuple[str, CdmsLfnData]]:
    """The card's LFN model, then each parameter moved alone (rate, amplitude scale, burst band)."""
    out = [("the card's", cfg)]
    out += [(f"episodes at {r:g} Hz", dataclasses.replace(cfg, lfn_rate_hz=r)) for r in LFN_RATES_HZ]
    out += [
        (f"amplitude scale {s:g} sigma_E", dataclasses.replace(cfg, lfn_of_scale_sigma=s)) for s in LFN_SCALES_SIGMA
    ]
    out += [(f"bursts in {lo:g}-{hi:g} Hz", dataclasses.replace(cfg, lfn_band_hz=(lo, hi))) for lo, hi in LFN_BANDS_HZ]
    return out


def lfn_table(cfg: CdmsLfnData, seed: int, reference: Reference) -> tuple[float, list[LfnVariant]]:
    """E50 of every trigger at the card's budget on new streams for each LFN model of ``lfn_variants``.

    The network is the one trained on the card's LFN model, scored by its verified reference on each
    candidate's inputs (``Chain.network_inputs``); the streams are ``LFN_TABLE_SECONDS`` long (or the
    card's stream, if shorter), with the same seeds for every row, so rows differ by the LFN alone.
    """
    seconds = min(LFN_TABLE_SECONDS, cfg.stream_seconds)
    rows = []
    for label, data in lfn_variants(cfg):
        chain = Chain.build(data)

        def score(adc: np.ndarray, peak: np.ndarray, chain: Chain = chain) -> np.ndarray:
            return reference(chain.network_inputs(adc, chain.fir.output(adc), peak))

        config = dataclasses.replace(
            windows.measurement_config(data, seed), seconds=min(windows.SEGMENT_SECONDS, seconds)
        )
        vetoes = (*classical_vetoes(data, chain.of), ScoreVeto(name=NN, score=score))
        n = windows.segments(seconds)
        scan = scan_streams(config, windows.THRESHOLDS_SIGMA, vetoes, segments=n, chain=chain)
        rows.append(LfnVariant(label=label, lfn_rate_hz=data.lfn_rate_hz, lfn_band_hz=data.lfn_band_hz,
                               lfn_of_scale_sigma=data.lfn_of_scale_sigma,
                               points=_points(scan, cfg.accidental_budget_hz)))  # fmt: skip
    return seconds, rows


def evaluate(
    cfg: CdmsLfnData,
    test: Split,
    info: DatasetInfo,
    scores: np.ndarray,
    rows: np.ndarray,
    plots: Path,
    reference: Reference | None = None,
) -> Physics:
    """The three triggers at the card's budget, the headline, how it moves with the budget and (with the
    network's ``reference``) with the LFN model."""
    generic = binary_classifier(test, info, scores, rows, plots)
    scan = scan_with_network(cfg, test, info, scores, rows)
    bottom = float(scan.thresholds_sigma[0])
    chain = Chain.build(cfg)

    points = _points(scan, cfg.accidental_budget_hz, bootstrap=BOOTSTRAP)
    nn, best = points[f"OF + {NN}"], _best_classical(points)
    reduction = _reduction(nn, best)
    budgets = []
    for b in sorted({*BUDGETS_HZ, cfg.accidental_budget_hz}):
        at = points if b == cfg.accidental_budget_hz else _points(scan, b)
        row_best = _best_classical(at)
        budgets.append({"budget_hz": b, "best_classical": None if row_best is None else row_best.trigger,
                        **{name: None if p is None else p.e50_sigma for name, p in at.items()},
                        "reduction": _reduction(at[f"OF + {NN}"], row_best)})  # fmt: skip

    found = {
        "vectors": generic.metrics["vectors"],
        "stream": _stream_text(cfg, scan),
        "accidental_budget_hz": cfg.accidental_budget_hz,
        "threshold_reduction": reduction,
        "threshold_reduction_error": _reduction_error(nn, best),
        "best_classical": None if best is None else best.trigger,
        "triggers": {name: _point_metrics(p, bottom) for name, p in points.items()},
        "budgets": budgets,
        "fir": {
            "taps": len(chain.fir.coefficients),
            "coefficient_bits": chain.fir.bits,
            "frac_bits": chain.fir.frac_bits,
            "resolution_loss": chain.fir.resolution_loss,
            "gain": chain.fir.gain,
            "of_word_bits": chain.fir.output_bits,
        },
        "network_alone": generic.metrics,
        "published_lstm_projection": 0.22,
    }
    paths = generic.plots | {"turn_on": plots / "turn_on.png", "rates": plots / "accidental_rates.png"}
    shown = {name: p for name, p in points.items() if p is not None}
    _plot_turn_on(paths["turn_on"], scan, shown)
    _plot_rates(paths["rates"], scan, shown, cfg.accidental_budget_hz)
    lines = _markdown(cfg, scan, found, points, best, nn)
    if cfg.user is not None:
        at = lines.index(LFN_TABLE_MARK)
        lines[at : at + 1] = ["", "The LFN is the recording's own, so the table of the headline against the LFN "
                              "model's parameters (made for simulated streams) does not apply."]  # fmt: skip
    elif reference is not None:
        seconds, variants = lfn_table(cfg, info.seed, reference)
        found["lfn_models"] = [
            {"model": v.label, "lfn_rate_hz": v.lfn_rate_hz, "lfn_of_scale_sigma": v.lfn_of_scale_sigma,
             "lfn_band_hz": list(v.lfn_band_hz), "seconds": seconds,
             **{name: None if p is None else p.e50_sigma for name, p in v.points.items()},
             "best_classical": None if (b := _best_classical(v.points)) is None else b.trigger,
             "reduction": _reduction(v.points[f"OF + {NN}"], b)}
            for v in variants
        ]  # fmt: skip
        # E50's bootstrap error on the measurement stream, scaled to the rows' shorter streams
        errors = [p.efficiency.e50_error_sigma for p in points.values() if p is not None]
        row_error = max(errors) * np.sqrt(cfg.stream_seconds / seconds) if errors else float("nan")
        at = lines.index(LFN_TABLE_MARK)
        e50 = best.e50_sigma if best is not None else float("nan")
        lines[at : at + 1] = _lfn_lines(seconds, found["lfn_models"], points, row_error, e50)
    else:
        lines.remove(LFN_TABLE_MARK)
    return Physics(metrics=found, markdown=lines, plots=paths)


LFN_TABLE_MARK = "<lfn table>"


def _lfn_source(cfg: CdmsLfnData) -> str:
    if cfg.user is not None:
        return ("the recording's own LFN and noise, and which of its episodes are known (`data.user.event_*`: the "
                "network's background class; an unknown one counts as noise)")  # fmt: skip
    return (f"the LFN model, which is an assumption of this simulation (episodes at {cfg.lfn_rate_hz:g} Hz, OF "
            f"amplitudes {cfg.lfn_of_min_sigma:g} sigma_E + exponential of mean {cfg.lfn_of_scale_sigma:g}, bursts in "
            f"{cfg.lfn_band_hz[0]:g}-{cfg.lfn_band_hz[1]:g} Hz; `docs/physics.md`)")  # fmt: skip


def _stream_text(cfg: CdmsLfnData, scan: Scan) -> str:
    scores = "the network's scores are the firmware's on every candidate window"
    injected = f"pulses injected at {scan.config.signal_rate_hz:g} Hz"
    if cfg.user is not None:
        return (f"{scan.seconds:.0f} s of the recording {Path(cfg.user.path).name} (its measurement part, "
                f"{scan.segments} segments; its own noise and LFN), {injected}; {scores}")  # fmt: skip
    return (f"{scan.seconds:.0f} s of simulated stream ({scan.segments} segments), LFN episodes at "
            f"{cfg.lfn_rate_hz:g} Hz, {injected}; {scores}")  # fmt: skip


def _lfn_lines(seconds: float, models: list[dict[str, Any]], points, row_error: float, e50: float) -> list[str]:
    return [
        "",
        f"How the headline moves with the LFN model (each parameter moved alone; {seconds:g} s of new stream per row, "
        "the same seeds; the network is the one trained on the card's model, scored by its verified reference). "
        f"Each E50 here has a statistical error of about {row_error:.2f} sigma_E (the measurement's bootstrap error "
        f"scaled to the shorter stream): about {100 * np.sqrt(2) * row_error / e50:.1f} points on a reduction at "
        f"E50 {e50:.1f} sigma_E, so rows closer than that do not differ:",
        "",
        "| LFN model | " + " | ".join(f"E50 {name}" for name in points) + " | best classical | reduction |",
        "|---" * (len(points) + 3) + "|",
        *[
            f"| {m['model']} | " + " | ".join(_fmt(m[name]) for name in points)
            + f" | {m['best_classical'] or '—'} | {_fmt(m['reduction'], '.1%')} |"
            for m in models
        ],
    ]  # fmt: skip


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, spec)


def _markdown(cfg: CdmsLfnData, scan: Scan, found: dict[str, Any], points, best, nn) -> list[str]:
    fir = found["fir"]
    bottom = float(scan.thresholds_sigma[0])
    lines = [
        f"Measured on {found['stream']}. Energies in units of the float OF's baseline resolution sigma_E; the "
        f"OF is the FPGA's: a {fir['taps']}-tap FIR with {fir['coefficient_bits']}-bit coefficients "
        f"({fir['frac_bits']} fraction bits below sigma_E; {fir['of_word_bits']}-bit OF word), whose resolution "
        f"differs from the float OF's by {fir['resolution_loss']:+.3%} on the stream's noise. Thresholds are the "
        f"lowest at which the accidental (noise + LFN) trigger rate stays within "
        f"**{cfg.accidental_budget_hz:g} Hz** (`data.accidental_budget_hz`); a veto's cut keeps at least "
        f"{cfg.min_plateau_efficiency:.1%} of the pulses far above threshold (`data.min_plateau_efficiency`). "
        "Rates with their Garwood 68 % intervals; E50 errors from a bootstrap of the injected pulses "
        "(`tasks/cdms/thresholds.py`).",
        "",
        "| trigger | threshold (sigma_E) | cut | noise triggers (Hz) | LFN triggers (Hz) | total (Hz) | E50 (sigma_E) "
        "| E99 (sigma_E) | plateau |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in points.items():
        if p is None:
            lines.append(f"| {name} | over budget at every grid threshold (up to {scan.thresholds_sigma[-1]:g}) "
                         "| | | | | | | |")  # fmt: skip
            continue
        lo, hi = (_fmt(x) for x in p.threshold_range_sigma)
        floor = " (grid bottom: at most)" if p.threshold_sigma <= bottom else ""
        nlo, nhi = p.noise.interval_hz
        llo, lhi = p.lfn.interval_hz
        cut = "—" if p.cut is None else f"{p.cut:.3g} (keeps {p.keep_fraction:.1%})"
        e99 = _fmt(p.e99_sigma) if p.e99_sigma is not None else f"— ({p.efficiency.e99_why})"
        lines.append(
            f"| {name} | {p.threshold_sigma:.2f} [{lo}, {hi}]{floor} | {cut} | {p.noise.hz:.3g} [{nlo:.3g}, "
            f"{nhi:.3g}] ({p.noise.count}) | {p.lfn.hz:.3g} [{llo:.3g}, {lhi:.3g}] ({p.lfn.count} from "
            f"{p.lfn_episodes} episodes) | {p.total_hz:.3g} | {p.e50_sigma:.2f} ± {p.efficiency.e50_error_sigma:.2f} "
            f"| {e99} | {p.efficiency.turn_on.plateau:.4f} |"
        )
    reduction = found["threshold_reduction"]
    lines += [
        "",
        f"**Threshold reduction, OF + NN against the best classical trigger ({found['best_classical']}) at "
        f"{cfg.accidental_budget_hz:g} Hz: {_fmt(reduction, '.1%')}** (E50). The neural-trigger proposal "
        "(arXiv:2212.07864) projects about 22 % at equal noise rate.",
        "",
        f"What the headline depends on: the budget (below), and {_lfn_source(cfg)}. Where noise triggers, not "
        "LFN, set a threshold, no pulse-shape veto can lower it: a noise excursion looks like a pulse of its "
        "amplitude.",
        "",
        "| budget (Hz) | " + " | ".join(f"E50 {name}" for name in points) + " | best classical | reduction |",
        "|---" * (len(points) + 3) + "|",
    ]
    for row in found["budgets"]:
        lines.append(
            f"| {row['budget_hz']:g} | " + " | ".join(_fmt(row[name]) for name in points)
            + f" | {row['best_classical'] or '—'} | {_fmt(row['reduction'], '.1%')} |"
        )  # fmt: skip
    lines.append(LFN_TABLE_MARK)
    of = points[OF_ALONE]
    if of is not None:
        lines += [
            "",
            f"Cross-check: at the OF-alone threshold ({of.threshold_sigma:.2f} sigma_E) Rice's formula for the FIR's "
            f"own output spectrum gives {of.rice_noise_hz:.3g} Hz of noise crossings; the candidate logic counted "
            f"{of.noise.hz:.3g} Hz (the hold merges crossings a few samples apart; `tasks/cdms/stream.py`).",
        ]
    lines += [
        "",
        "![turn-on curves](plots/turn_on.png)",
        "![accidental rates](plots/accidental_rates.png)",
        "",
        f"The network alone, on every candidate window of the measurement stream (signal: matched to a pulse; "
        f"background: LFN and noise candidates; {found['vectors']} windows):",
        "",
        *metric_table(found["network_alone"]),
        "",
        "![ROC](plots/roc.png)",
        "![example windows](plots/examples.png)",
    ]
    return lines


def _colours(names) -> dict[str, str]:
    palette = ("tab:grey", "tab:blue", "tab:green", "k", "tab:red")
    return {n: palette[i % len(palette)] for i, n in enumerate(names)}


def _plot_turn_on(path: Path, scan: Scan, points: dict[str, OperatingPoint]) -> None:
    energy = scan.pulse_energy[scan.pulse_isolated]
    edges = np.linspace(energy.min(), energy.max(), 40)
    centres = 0.5 * (edges[1:] + edges[:-1])
    which = np.digitize(energy, edges) - 1
    fine = np.linspace(edges[0], edges[-1], 400)
    colours = _colours(points)
    with figure(path, figsize=(6.5, 4.5)) as (_, ax):
        for name, p in points.items():
            t = int(np.flatnonzero(scan.thresholds_sigma == p.threshold_sigma)[0])
            found = scan.found(t, p.veto, np.inf if p.cut is None else p.cut)[scan.pulse_isolated]
            eff, err = binned_fraction(found, which, len(centres))
            ax.errorbar(centres, eff, yerr=err, fmt="o", ms=2.5, color=colours[name], capsize=1.5,
                        label=f"{name}: T {p.threshold_sigma:.2f}, E50 {p.e50_sigma:.2f}")  # fmt: skip
            ax.plot(fine, p.efficiency.turn_on(fine), color=colours[name], lw=1)
        ax.set_xlabel("pulse energy (sigma_E)")
        ax.set_ylabel("trigger efficiency (isolated pulses)")
        ax.set_xlim(edges[0], min(edges[-1], 12.0))
        ax.set_ylim(0, 1.05)
        ax.set_title(f"Turn-on at {points[next(iter(points))].budget_hz:g} Hz of accidental triggers", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)


def _plot_rates(path: Path, scan: Scan, points: dict[str, OperatingPoint], budget_hz: float) -> None:
    colours = _colours(points)
    t = scan.thresholds_sigma
    with figure(path, figsize=(6.5, 4.5)) as (_, ax):
        for name, p in points.items():
            cut = np.inf if p.cut is None else p.cut
            total = [scan.total_hz(i, p.veto, cut) for i in range(len(t))]
            ax.plot(t, np.maximum(total, 1e-4), color=colours[name], lw=1.2, label=f"{name} (noise + LFN)")
            noise = [scan.rates(i, p.veto, cut)[0].hz for i in range(len(t))]
            ax.plot(t, np.maximum(noise, 1e-4), color=colours[name], lw=0.8, ls=":")
        ax.plot(t, scan.rice_hz, color="tab:purple", lw=0.8, ls="--", label="Rice's formula, FIR output (noise)")
        ax.axhline(budget_hz, color="k", lw=0.8, ls="-.", label=f"budget {budget_hz:g} Hz")
        ax.set_yscale("log")
        ax.set_ylim(1e-3 / max(scan.seconds / 1000, 1e-3), None)
        ax.set_xlabel("OF threshold (sigma_E)")
        ax.set_ylabel("accidental triggers per second (dotted: noise only)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
