"""The physics part of the report, per task: figures of merit and plots from the firmware's outputs.

Scores come from the test-set vectors that verify found bit-identical in every implementation, so
each number here is what the firmware decides. The ECL part sets the network against the
classical shower-shape cuts on the same clusters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics
from .artifacts import DatasetInfo, atomic_path
from .baselines import BASELINES
from .card import Card, EclPhotonData, Granularity
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
def _figure(path: Path, *args: Any, **kwargs: Any) -> Iterator[Any]:
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


def evaluate(card: Card, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path) -> Physics:
    """Figures of merit of the firmware ``scores`` on test-set ``rows``; plots go under ``plots``."""
    if isinstance(card.data, EclPhotonData):
        return _ecl(card.data, test, info, scores, rows, plots)
    return _generic(test, info, scores, rows, plots)


# --- any binary task: ROC and example inputs ---------------------------------------------------------


def _generic(test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path) -> Physics:
    names = info.class_names
    labels = test.y[rows]
    found = {"vectors": int(len(scores)), **metrics.summary(scores, labels, background=names[0], signal=names[-1])}
    r = metrics.roc(scores, labels)
    paths = {"roc": plots / "roc.png", "examples": plots / "examples.png"}
    with _figure(paths["roc"], figsize=(5, 4)) as (_, ax):
        ax.plot(r.background_pass, r.signal_eff, drawstyle="steps-post", label=f"{NN}, AUC {metrics.auc(r):.4f}")
        ax.set_xscale("log")
        ax.set_xlim(1e-4, 1)
        ax.set_xlabel(f"{names[0]} pass rate")
        ax.set_ylabel(f"{names[-1]} efficiency")
        ax.set_title("ROC on the held-out set (da4ml Verilog = reference)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right")
    with _figure(paths["examples"], 1, 2, figsize=(9, 3.2), sharey=True) as (_, axes):
        for ax, cls in zip(axes, (1, 0), strict=True):
            for i in np.flatnonzero(test.y == cls)[:4]:
                ax.plot(test.x[i].reshape(-1), lw=1)
            ax.set_title(f"{names[cls]} windows (test set)")
            ax.set_xlabel("sample")
        axes[0].set_ylabel("ADC counts")
    lines = [
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {v:.4f} |" for k, v in found.items() if isinstance(v, float)],
        "",
        "![ROC](plots/roc.png)",
        "![example windows](plots/examples.png)",
    ]
    return Physics(metrics=found, markdown=lines, plots=paths)


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
            out[f"merged_rejection_at_{e:.0%}_photon_eff".replace("%", "pct")] = 1.0 - self.merged_pass[e]
            out[f"merged_pass_at_{e:.0%}_photon_eff".replace("%", "pct")] = self.merged_pass[e]
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
    with _figure(path, figsize=(5.5, 4.2)) as (_, ax):
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
    with _figure(path, 2, k, figsize=(5.2 * k, 6.4), sharex="col", squeeze=False) as (_, axes):
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
    with _figure(path, 2, 4, figsize=(10, 5.2)) as (fig, axes):
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
