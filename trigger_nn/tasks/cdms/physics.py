"""SuperCDMS: the threshold an NN trigger gains over the optimal filter alone, from the firmware's scores."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...artifacts import DatasetInfo
from ...dataset import Split
from ..common import GENERIC_PLOTS, binary_classifier, binned_fraction, figure, metric_table
from ..protocol import Physics
from .config import CdmsLfnData
from .simulation import EventKind


@dataclass(frozen=True, kw_only=True)
class TurnOn:
    """Trigger efficiency vs energy, ``eps/2 (1 + erf((E - mu) / (sqrt(2) width)))``, fitted unbinned."""

    mu: float
    width: float
    plateau: float

    @classmethod
    def fit(cls, energy: np.ndarray, passed: np.ndarray, guess: float) -> TurnOn:
        from scipy.optimize import minimize
        from scipy.special import erf

        y = passed.astype(np.float64)

        def nll(p: np.ndarray) -> float:
            eff = np.clip(p[2] / 2 * (1 + erf((energy - p[0]) / (np.sqrt(2) * p[1]))), 1e-9, 1 - 1e-9)
            return -float(np.sum(y * np.log(eff) + (1 - y) * np.log(1 - eff)))

        lo, hi = float(energy.min()), float(energy.max())
        best = minimize(nll, x0=[guess, 1.0, 0.99], bounds=[(lo, hi), (0.05, hi - lo), (0.5, 1.0)], method="L-BFGS-B")
        return cls(mu=float(best.x[0]), width=float(best.x[1]), plateau=float(best.x[2]))

    def __call__(self, energy: np.ndarray) -> np.ndarray:
        from scipy.special import erf

        return self.plateau / 2 * (1 + erf((energy - self.mu) / (np.sqrt(2) * self.width)))

    @property
    def e50(self) -> float:
        """The energy at 50 % efficiency."""
        from scipy.special import erfinv

        return float(self.mu + np.sqrt(2) * self.width * erfinv(1 / self.plateau - 1))


@dataclass(frozen=True, kw_only=True)
class Trigger:
    """OF peak >= ``threshold`` and (for OF + NN) network score >= ``cut``."""

    name: str
    threshold: float
    cut: float = -np.inf

    def passes(self, of_peak: np.ndarray, score: np.ndarray) -> np.ndarray:
        return (of_peak >= self.threshold) & (score >= self.cut)


def _cut_keeping(values: np.ndarray, k: int) -> float:
    """The lowest cut that lets at most ``k`` of ``values`` pass (``>=``)."""
    if k >= len(values):
        return -np.inf
    return float(np.nextafter(np.sort(values)[::-1][k], np.inf))


def _operating_points(cfg: CdmsLfnData, peak, score, kind, energy) -> tuple[Trigger, Trigger]:
    """The OF-alone threshold at the card's LFN pass rate, then the OF + NN point with the lowest E50 at that rate.

    OF + NN points that lose more than ``1 - min_plateau_efficiency`` of the signals far above threshold
    are not taken: a cut that throws away events of every energy would otherwise lower E50 too.
    """
    lfn, sig = kind == EventKind.LFN, kind == EventKind.SIGNAL
    k = int(np.floor(cfg.lfn_pass_target * lfn.sum()))
    of = Trigger(name="OF alone", threshold=_cut_keeping(peak[lfn], k))
    best: tuple[float, Trigger] | None = None
    for t in np.arange(cfg.of_threshold_floor_sigma, of.threshold + 1e-9, 0.1):
        above = lfn & (peak >= t)
        trig = Trigger(name="OF + NN", threshold=float(t), cut=_cut_keeping(score[above], k))
        curve = TurnOn.fit(energy[sig], trig.passes(peak[sig], score[sig]), guess=float(t))
        if curve.plateau >= cfg.min_plateau_efficiency and (best is None or curve.e50 < best[0]):
            best = (curve.e50, trig)
    return of, best[1] if best is not None else dataclasses.replace(of, name="OF + NN")


def evaluate(
    cfg: CdmsLfnData, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path
) -> Physics:
    """The OF-alone and OF + NN triggers at equal LFN pass rate, and the threshold each reaches."""
    generic = binary_classifier(test, info, scores, rows, plots)
    kind, energy, peak = (test.truth[k][rows] for k in ("kind", "energy_sigma", "of_peak_sigma"))
    score = np.asarray(scores, dtype=np.float64)
    choose, measure = rows % 2 == 0, rows % 2 == 1  # operating points on one half, figures on the other
    of, nn = _operating_points(cfg, peak[choose], score[choose], kind[choose], energy[choose])

    m = {"peak": peak[measure], "score": score[measure], "kind": kind[measure], "energy": energy[measure]}
    sig = m["kind"] == EventKind.SIGNAL
    rng = np.random.default_rng(0)
    results: dict[str, dict[str, float]] = {}
    curves: dict[str, TurnOn] = {}
    for trig in (of, nn):
        passed = trig.passes(m["peak"], m["score"])
        curve = TurnOn.fit(m["energy"][sig], passed[sig], guess=trig.threshold)
        idx = np.flatnonzero(sig)
        boot = [
            TurnOn.fit(m["energy"][b], passed[b], guess=trig.threshold).e50
            for b in (rng.choice(idx, size=idx.size) for _ in range(30))
        ]
        curves[trig.name] = curve
        results[trig.name] = {
            "of_threshold_sigma": trig.threshold,
            "nn_cut": float(trig.cut),
            "lfn_pass_rate": float(passed[m["kind"] == EventKind.LFN].mean()),
            "noise_pass_rate": float(passed[m["kind"] == EventKind.NOISE].mean()),
            "e50_sigma": curve.e50,
            "e50_error_sigma": float(np.std(boot)),
            "turn_on_width_sigma": curve.width,
            "plateau_efficiency": curve.plateau,
        }
    reduction = 1.0 - results[nn.name]["e50_sigma"] / results[of.name]["e50_sigma"]
    found = generic.metrics | {
        "operating_points_from": f"{int(choose.sum())} even-numbered test events",
        "measured_on_events": int(measure.sum()),
        "lfn_pass_target": cfg.lfn_pass_target,
        "triggers": results,
        "threshold_reduction": reduction,
        "published_lstm_projection": 0.22,
    }
    paths = generic.plots | {"turn_on": plots / "turn_on.png", "of_peaks": plots / "of_peaks.png"}
    of_low = Trigger(name="OF alone at the OF + NN threshold", threshold=nn.threshold)
    _plot_turn_on(paths["turn_on"], m, sig, (of, nn, of_low), curves)
    _plot_of_peaks(paths["of_peaks"], m, of, nn)
    lines = [
        f"Operating points chosen on the {found['operating_points_from']}; every figure below is measured on the "
        f"other {found['measured_on_events']}. Energies in units of the OF baseline resolution sigma_E. "
        "The OF is QETpy's optimal filter run in float64 as a model of the FPGA's FIR; the NN scores are the "
        "firmware's.",
        "",
        "| trigger | OF threshold (sigma_E) | NN cut | LFN pass rate | noise pass rate | E50 (sigma_E) | "
        "turn-on width | plateau |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {name} | {r['of_threshold_sigma']:.2f} | {r['nn_cut']:.4g} | {r['lfn_pass_rate']:.4f} | "
            f"{r['noise_pass_rate']:.4f} | {r['e50_sigma']:.2f} ± {r['e50_error_sigma']:.2f} | "
            f"{r['turn_on_width_sigma']:.2f} | {r['plateau_efficiency']:.3f} |"
            for name, r in results.items()
        ],
        "",
        f"**Threshold reduction at equal LFN pass rate: {reduction:.1%}** (energy at 50 % efficiency, OF + NN vs "
        f"OF alone; the published LSTM projection is 22 %). OF + NN must keep at least "
        f"{cfg.min_plateau_efficiency:.0%} of the signals far above threshold. The LFN pass rates are equal "
        "on the half the operating points come from; on this half they differ by its statistics.",
        "",
        *(
            [
                f"OF + NN sits at the card's floor ({cfg.of_threshold_floor_sigma:g} sigma_E, "
                "`of_threshold_floor_sigma`): there the noise triggers, not the LFN, limit the threshold.",
                "",
            ]
            if nn.threshold <= cfg.of_threshold_floor_sigma + 1e-9
            else []
        ),
        "![turn-on curves](plots/turn_on.png)",
        "![OF peaks](plots/of_peaks.png)",
        *GENERIC_PLOTS,
        "",
        "The network alone (signal vs LFN and noise windows, all test events):",
        "",
        *metric_table(generic.metrics),
    ]
    return Physics(metrics=found, markdown=lines, plots=paths)


def _plot_turn_on(path: Path, m: dict[str, np.ndarray], sig: np.ndarray, triggers, curves) -> None:
    energy = m["energy"][sig]
    edges = np.linspace(energy.min(), energy.max(), 30)
    centres = 0.5 * (edges[1:] + edges[:-1])
    which = np.digitize(energy, edges) - 1
    fine = np.linspace(edges[0], edges[-1], 400)
    with figure(path, figsize=(6, 4.3)) as (_, ax):
        for trig, colour in zip(triggers, ("tab:blue", "k", "tab:grey"), strict=True):
            passed = trig.passes(m["peak"][sig], m["score"][sig])
            eff, err = binned_fraction(passed, which, len(centres))
            ax.errorbar(centres, eff, yerr=err, fmt="o", ms=3, color=colour, capsize=2,
                        label=f"{trig.name} (OF >= {trig.threshold:.2f})")  # fmt: skip
            if trig.name in curves:
                curve = curves[trig.name]
                ax.plot(fine, curve(fine), color=colour, lw=1.2)
                ax.axvline(curve.e50, color=colour, ls=":", lw=1)
        ax.set_xlabel("deposited energy (OF baseline resolution sigma_E)")
        ax.set_ylabel("trigger efficiency")
        ax.set_ylim(0, 1.05)
        ax.set_title("Turn-on at equal LFN pass rate (NN: firmware outputs)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)


def _plot_of_peaks(path: Path, m: dict[str, np.ndarray], of: Trigger, nn: Trigger) -> None:
    bins = np.linspace(-2, max(20.0, of.threshold + 2), 80)
    with figure(path, figsize=(6, 4)) as (_, ax):
        for k, name in ((EventKind.NOISE, "noise"), (EventKind.LFN, "LFN"), (EventKind.SIGNAL, "signal")):
            ax.hist(m["peak"][m["kind"] == k], bins=bins, histtype="step", label=name)
        lfn = m["kind"] == EventKind.LFN
        ax.hist(m["peak"][lfn & (m["score"] >= nn.cut)], bins=bins, histtype="stepfilled", alpha=0.3,
                label="LFN the NN accepts")  # fmt: skip
        for trig, ls in ((of, "--"), (nn, ":")):
            ax.axvline(trig.threshold, color="k", ls=ls, label=f"{trig.name} threshold")
        ax.set_yscale("log")
        ax.set_xlabel("OF peak (sigma_E)")
        ax.set_ylabel("events")
        ax.legend(fontsize=8)
