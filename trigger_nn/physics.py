"""The physics part of the report, per task: figures of merit and plots from the firmware's outputs.

Scores come from the test-set vectors that verify found bit-identical in every implementation, so
each number here is what the firmware decides. The ECL part sets the network against the
classical shower-shape cuts on the same clusters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics
from .artifacts import DatasetInfo, ImportRecord, atomic_path
from .baselines import BASELINES
from .card import Card, CdmsLfnData, EclPhotonData, Granularity, ImportedModel
from .data.cdms import KIND_LFN, KIND_NOISE, KIND_SIGNAL
from .data.dataset import Split
from .data.ecl import SOURCE_ALP, SOURCE_PI0

NN = "NN (firmware)"
EFFICIENCIES = (0.90, 0.95)


@dataclass(frozen=True, kw_only=True)
class Physics:
    metrics: dict[str, Any]
    markdown: list[str]
    plots: dict[str, Path] = field(default_factory=dict)


@contextmanager
def figure(path: Path, *args: Any, **kwargs: Any) -> Iterator[Any]:
    """A matplotlib figure saved atomically to ``path`` as PNG when the block ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(*args, **kwargs)
    try:
        yield fig, axes
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
    finally:
        plt.close(fig)


def headline(card: Card) -> tuple[str, str]:
    """The one figure of merit a design scan ranks by (larger is better): its label and its key in the metrics."""
    if isinstance(card.data, EclPhotonData):
        return "merged rejection at 90 % photon eff.", "merged_rejection_at_90pct_photon_eff"
    if isinstance(card.data, CdmsLfnData):
        return "threshold reduction (E50, OF + NN vs OF)", "threshold_reduction"
    return "AUC", "auc"


def evaluate(card: Card, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path) -> Physics:
    """Figures of merit of the firmware ``scores`` on test-set ``rows``; plots go under ``plots``."""
    if isinstance(card.data, EclPhotonData):
        return _ecl(card.data, test, info, scores, rows, plots)
    if isinstance(card.data, CdmsLfnData):
        return _cdms(card.data, test, info, scores, rows, plots)
    if isinstance(card.data, ImportedModel):
        return _imported(card.data, rows)
    return _generic(test, info, scores, rows, plots)


# --- an imported model: no labels, its equality with QKeras instead ---------------------------------------


def _imported(data: ImportedModel, rows: np.ndarray) -> Physics:
    record = ImportRecord.load(data.record) if data.record.is_file() else None
    compared = record.qkeras_vectors if record else 0
    mismatches = record.qkeras_mismatches if record else None
    qkeras = (
        f"the rebuilt model's outputs equal QKeras' own predictions on {compared} vectors "
        f"({mismatches} differ; `trigger-nn import`, {data.record})"
        if compared
        else "no QKeras predictions were given to `trigger-nn import`, so its equality with QKeras is not measured"
    )
    return Physics(
        metrics={
            "vectors": int(len(rows)),
            "qkeras_vectors": compared,
            "qkeras_mismatches": mismatches,
        },
        markdown=[
            f"An imported model ({data.source}): its vectors carry no labels, so there is no figure of merit. "
            f"Instead: {qkeras}; and the firmware's outputs equal the rebuilt model's (Bit-exact verification, above)."
        ],
    )


# --- any binary task: ROC and example inputs ---------------------------------------------------------


def _generic(test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path) -> Physics:
    names = info.class_names
    labels = test.y[rows]
    found = {"vectors": int(len(scores)), **metrics.summary(scores, labels, background=names[0], signal=names[-1])}
    r = metrics.roc(scores, labels)
    paths = {"roc": plots / "roc.png", "examples": plots / "examples.png"}
    with figure(paths["roc"], figsize=(5, 4)) as (_, ax):
        ax.plot(r.background_pass, r.signal_eff, drawstyle="steps-post", label=f"{NN}, AUC {metrics.auc(r):.4f}")
        ax.set_xscale("log")
        ax.set_xlim(1e-4, 1)
        ax.set_xlabel(f"{names[0]} pass rate")
        ax.set_ylabel(f"{names[-1]} efficiency")
        ax.set_title("ROC on the held-out set (da4ml Verilog = reference)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right")
    with figure(paths["examples"], 1, 2, figsize=(9, 3.2), sharey=True) as (_, axes):
        for ax, cls in zip(axes, (1, 0), strict=True):
            for i in np.flatnonzero(test.y == cls)[:4]:
                ax.plot(test.x[i].reshape(-1), lw=1)
            ax.set_title(f"{names[cls]} windows (test set)")
            ax.set_xlabel("sample")
        axes[0].set_ylabel("ADC counts")
    return Physics(metrics=found, markdown=[*_metric_table(found), "", *GENERIC_PLOTS], plots=paths)


GENERIC_PLOTS = ("![ROC](plots/roc.png)", "![example windows](plots/examples.png)")


def _metric_table(found: dict[str, Any]) -> list[str]:
    return [
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {v:.4f} |" for k, v in found.items() if isinstance(v, float)],
    ]


# --- Belle II ECL: photons vs merged two-photon clusters ---------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Selection:
    """One way of keeping photons: the network's score or a shower-shape cut, at fixed photon efficiencies."""

    name: str
    roc: metrics.Roc
    auc: float
    cuts: dict[float, float]  # photon efficiency -> cut
    merged_pass: dict[float, float]  # photon efficiency -> fraction of merged clusters kept

    @classmethod
    def of(cls, name: str, scores: np.ndarray, is_photon: np.ndarray) -> Selection:
        r = metrics.roc(scores, is_photon)
        return cls(
            name=name,
            roc=r,
            auc=metrics.auc(r),
            cuts={e: metrics.threshold_at(r, e) for e in EFFICIENCIES},
            merged_pass={e: metrics.background_pass_at(r, e) for e in EFFICIENCIES},
        )

    def as_dict(self) -> dict[str, float]:
        out = {"auc": self.auc}
        for e in EFFICIENCIES:
            out[f"merged_rejection_at_{round(100 * e)}pct_photon_eff"] = 1.0 - self.merged_pass[e]
            out[f"merged_pass_at_{round(100 * e)}pct_photon_eff"] = self.merged_pass[e]
        return out


def _binned_fraction(passed: np.ndarray, which: np.ndarray, n_bins: int) -> tuple[list[float], list[float]]:
    """Fraction of ``passed`` in each bin and its binomial error (NaN for an empty bin)."""
    frac, err = [], []
    for b in range(n_bins):
        sel = passed[which == b]
        p = float(sel.mean()) if sel.size else float("nan")
        frac.append(p)
        err.append(float(np.sqrt(p * (1 - p) / sel.size)) if sel.size else float("nan"))
    return frac, err


def _energy_edges(energy: np.ndarray) -> np.ndarray:
    """Seven bins over the energies present, edges rounded to 0.1 GeV."""
    edges = np.linspace(np.floor(energy.min() * 10) / 10, np.ceil(energy.max() * 10) / 10, 8)
    edges[-1] = np.nextafter(edges[-1], np.inf)
    return edges


def _rejection_vs_energy(
    scores: dict[str, np.ndarray],
    selections: dict[str, Selection],
    energy: np.ndarray,
    merged: np.ndarray,
    is_photon: np.ndarray,
) -> dict[str, Any]:
    """Per energy bin, each selection at its 90 % photon-efficiency cut: the share of ``merged`` clusters it
    rejects, and the share of photons it keeps (a trigger must not lose its high-energy photons)."""
    edges = _energy_edges(energy[merged])
    which = np.digitize(energy, edges) - 1
    n_bins = len(edges) - 1
    out: dict[str, Any] = {
        "bin_edges_gev": [float(e) for e in edges],
        "clusters": [int(np.sum(merged & (which == b))) for b in range(n_bins)],
    }
    for name, s in scores.items():
        kept = s >= selections[name].cuts[0.90]
        rejection, error = _binned_fraction(~kept[merged], which[merged], n_bins)
        photon_eff, photon_err = _binned_fraction(kept[is_photon], which[is_photon], n_bins)
        out[name] = {
            "rejection": rejection,
            "rejection_error": error,
            "photon_eff": photon_eff,
            "photon_eff_error": photon_err,
        }
    return out


def _ecl(
    cfg: EclPhotonData, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path
) -> Physics:
    is_photon = test.y[rows].astype(bool)
    truth = {k: v[rows] for k, v in test.truth.items()}
    all_scores = {NN: np.asarray(scores, dtype=np.float64)} | {b.name: b.score(truth[b.key]) for b in BASELINES}
    selections = {name: Selection.of(name, s, is_photon) for name, s in all_scores.items()}
    nn = selections[NN]
    beats = all(nn.merged_pass[0.90] < selections[b.name].merged_pass[0.90] for b in BASELINES)

    energy, source = truth["energy_gev"], truth["source"]
    simulated = bool(np.all(source >= 0))
    merged_of = {"pi0": ~is_photon & (source == SOURCE_PI0), "ALP": ~is_photon & (source == SOURCE_ALP)}
    if not simulated:
        merged_of = {"merged": ~is_photon}
    has_energy = bool(np.all(np.isfinite(energy)))
    by_energy: dict[str, Any] = {}
    if has_energy:
        by_energy = {
            kind: _rejection_vs_energy(all_scores, selections, energy, sel, is_photon)
            for kind, sel in merged_of.items()
            if sel.any()
        }

    found: dict[str, Any] = {
        "vectors": int(len(scores)),
        "photons": int(is_photon.sum()),
        "merged_clusters": int((~is_photon).sum()),
        **nn.as_dict(),
        "baselines": {b.name: selections[b.name].as_dict() for b in BASELINES},
        "nn_beats_every_baseline_at_90pct_photon_eff": beats,
        "rejection_at_90pct_photon_eff_vs_energy": by_energy,
    }
    paths = {"rejection": plots / "rejection.png", "examples": plots / "examples.png"}
    _plot_rejection(paths["rejection"], selections)
    if by_energy:
        paths["rejection_vs_energy"] = plots / "rejection_vs_energy.png"
        _plot_rejection_vs_energy(paths["rejection_vs_energy"], by_energy)
    _plot_clusters(paths["examples"], cfg, test, info)

    lines = [
        f"{found['photons']} photons and {found['merged_clusters']} merged clusters of the test set. "
        "Rejection = fraction of merged clusters the selection drops; the shower-shape cuts are computed on "
        "the crystal images in MeV, the network on its trigger words.",
        "",
        "| selection | AUC | merged rejection at 90 % photon eff. | at 95 % |",
        "|---|---|---|---|",
        *[
            f"| {s.name} | {s.auc:.4f} | {1 - s.merged_pass[0.90]:.4f} | {1 - s.merged_pass[0.95]:.4f} |"
            for s in selections.values()
        ],
        "",
        f"The network {'beats' if beats else 'does NOT beat'} every shower-shape cut at 90 % photon efficiency.",
        "",
    ]
    if simulated:
        lines += [
            "These clusters come from the model in `trigger_nn/data/ecl.py` (parameterised showers, no material in "
            "front of the calorimeter, no overlapping clusters): the absolute rejections are the model's; the "
            "comparison of the selections on the same clusters is the result.",
            "",
        ]
    for kind, table in by_energy.items():
        edges = table["bin_edges_gev"]
        lines += [
            f"Rejection of {kind} clusters vs energy, each selection at its 90 % photon-efficiency cut:",
            "",
            "| energy (GeV) | clusters | " + " | ".join(all_scores) + " | photon eff. of the NN |",
            "|---|---|" + "---|" * (len(all_scores) + 1),
            *[
                f"| {edges[b]:.1f}-{edges[b + 1]:.1f} | {table['clusters'][b]} | "
                + " | ".join(f"{table[name]['rejection'][b]:.3f}" for name in all_scores)
                + f" | {table[NN]['photon_eff'][b]:.3f} |"
                for b in range(len(edges) - 1)
            ],
            "",
        ]
    lines += [f"![{k}](plots/{p.name})" for k, p in paths.items()]
    return Physics(metrics=found, markdown=lines, plots=paths)


def _plot_rejection(path: Path, selections: dict[str, Selection]) -> None:
    with figure(path, figsize=(5.5, 4.2)) as (_, ax):
        for s in selections.values():
            style = {"lw": 2.0, "color": "k"} if s.name == NN else {"lw": 1.2}
            ax.plot(s.roc.signal_eff, 1 - s.roc.background_pass, label=f"{s.name} (AUC {s.auc:.3f})", **style)
        for e in EFFICIENCIES:
            ax.axvline(e, color="grey", ls=":", lw=1)
        ax.set_xlim(0.5, 1.0)
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("photon efficiency")
        ax.set_ylabel("merged-cluster rejection")
        ax.set_title("Held-out clusters: NN firmware outputs vs shower-shape cuts", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)


def _plot_rejection_vs_energy(path: Path, by_energy: dict[str, Any]) -> None:
    """Top: merged-cluster rejection; bottom: photon efficiency; each selection at its global 90 % cut."""
    k = len(by_energy)
    with figure(path, 2, k, figsize=(5.2 * k, 6.4), sharex="col", squeeze=False) as (_, axes):
        for col, (kind, table) in enumerate(by_energy.items()):
            edges = np.asarray(table["bin_edges_gev"])
            centres = 0.5 * (edges[1:] + edges[:-1])
            for name in (k for k in table if k not in ("bin_edges_gev", "clusters")):
                style = {"color": "k", "lw": 2.0} if name == NN else {"lw": 1.0}
                for ax, key in ((axes[0, col], "rejection"), (axes[1, col], "photon_eff")):
                    ax.errorbar(centres, table[name][key], yerr=table[name][f"{key}_error"], marker="o", ms=3,
                                capsize=2, label=name, **style)  # fmt: skip
            axes[0, col].set_title(f"{kind} clusters; every cut at 90 % photon efficiency overall", fontsize=9)
            axes[0, col].set_ylabel("merged-cluster rejection")
            axes[1, col].set_ylabel("photon efficiency (photons of this energy)")
            axes[1, col].set_xlabel(f"{kind} / photon energy (GeV)")
            for ax in axes[:, col]:
                ax.set_ylim(0.0, 1.02)
                ax.grid(alpha=0.3)
            axes[0, col].legend(loc="best", fontsize=8)


def _plot_clusters(path: Path, cfg: EclPhotonData, test: Split, info: DatasetInfo) -> None:
    """Four test-set inputs of each class, in trigger-word counts, as the network sees them."""
    counts = test.x * 2.0**cfg.input_frac_bits
    unit = "crystals" if cfg.granularity is Granularity.CRYSTAL else "trigger cells"
    with figure(path, 2, 4, figsize=(10, 5.2)) as (fig, axes):
        for row, cls in zip(axes, (1, 0), strict=True):
            for ax, i in zip(row, np.flatnonzero(test.y == cls)[:4], strict=False):
                im = ax.imshow(counts[i], cmap="viridis", origin="lower")
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
                title = f"{info.class_names[cls]}, {test.truth['energy_gev'][i]:.2f} GeV"
                if cls == 0 and np.isfinite(test.truth["separation_cm"][i]):
                    title += f"\nphotons {test.truth['separation_cm'][i]:.1f} cm apart"
                ax.set_title(title, fontsize=8)
                ax.set_xticks([])
                ax.set_yticks([])
        fig.suptitle(f"Test-set clusters as the trigger sees them ({unit}; counts of {cfg.lsb_mev:g} MeV)", fontsize=10)


# --- SuperCDMS: the threshold an NN trigger gains over the optimal filter alone ------------------------


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
    lfn, sig = kind == KIND_LFN, kind == KIND_SIGNAL
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


def _cdms(
    cfg: CdmsLfnData, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path
) -> Physics:
    generic = _generic(test, info, scores, rows, plots)
    kind, energy, peak = (test.truth[k][rows] for k in ("kind", "energy_sigma", "of_peak_sigma"))
    score = np.asarray(scores, dtype=np.float64)
    choose, measure = rows % 2 == 0, rows % 2 == 1  # operating points on one half, figures on the other
    of, nn = _operating_points(cfg, peak[choose], score[choose], kind[choose], energy[choose])

    m = {"peak": peak[measure], "score": score[measure], "kind": kind[measure], "energy": energy[measure]}
    sig = m["kind"] == KIND_SIGNAL
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
            "lfn_pass_rate": float(passed[m["kind"] == KIND_LFN].mean()),
            "noise_pass_rate": float(passed[m["kind"] == KIND_NOISE].mean()),
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
        *_metric_table(generic.metrics),
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
            eff, err = _binned_fraction(passed, which, len(centres))
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
        for k, name in ((KIND_NOISE, "noise"), (KIND_LFN, "LFN"), (KIND_SIGNAL, "signal")):
            ax.hist(m["peak"][m["kind"] == k], bins=bins, histtype="step", label=name)
        lfn = m["kind"] == KIND_LFN
        ax.hist(m["peak"][lfn & (m["score"] >= nn.cut)], bins=bins, histtype="stepfilled", alpha=0.3,
                label="LFN the NN accepts")  # fmt: skip
        for trig, ls in ((of, "--"), (nn, ":")):
            ax.axvline(trig.threshold, color="k", ls=ls, label=f"{trig.name} threshold")
        ax.set_yscale("log")
        ax.set_xlabel("OF peak (sigma_E)")
        ax.set_ylabel("events")
        ax.legend(fontsize=8)
