"""Belle II ECL: the firmware's photons vs merged two-photon clusters, against the shower-shape cuts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...artifacts import DatasetInfo
from ...dataset import Split
from .. import common
from ..common import NN, binned_fraction, figure
from ..protocol import Physics
from .config import EclPhotonData, Granularity
from .shower_shapes import BASELINES
from .simulation import SOURCE_ALP, SOURCE_PI0, word_top

EFFICIENCIES = (0.90, 0.95)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """One way of keeping photons: the network's score or a shower-shape cut, at fixed photon efficiencies."""

    name: str
    roc: common.Roc
    auc: float
    cuts: dict[float, float]  # photon efficiency -> cut
    merged_pass: dict[float, float]  # photon efficiency -> fraction of merged clusters kept

    @classmethod
    def of(cls, name: str, scores: np.ndarray, is_photon: np.ndarray) -> Selection:
        r = common.roc(scores, is_photon)
        return cls(
            name=name,
            roc=r,
            auc=common.auc(r),
            cuts={e: common.threshold_at(r, e) for e in EFFICIENCIES},
            merged_pass={e: common.background_pass_at(r, e) for e in EFFICIENCIES},
        )

    def as_dict(self) -> dict[str, float]:
        out = {"auc": self.auc}
        for e in EFFICIENCIES:
            out[f"merged_rejection_at_{round(100 * e)}pct_photon_eff"] = 1.0 - self.merged_pass[e]
            out[f"merged_pass_at_{round(100 * e)}pct_photon_eff"] = self.merged_pass[e]
        return out


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
        rejection, error = binned_fraction(~kept[merged], which[merged], n_bins)
        photon_eff, photon_err = binned_fraction(kept[is_photon], which[is_photon], n_bins)
        out[name] = {
            "rejection": rejection,
            "rejection_error": error,
            "photon_eff": photon_eff,
            "photon_eff_error": photon_err,
        }
    return out


def _input_words(cfg: EclPhotonData, x: np.ndarray, truth: dict[str, np.ndarray]) -> tuple[dict[str, Any], str]:
    """A user's crystal values the trigger word clipped, in the scored test clusters: metrics and one line."""
    below, above = truth["crystals_below_zero"], truth["crystals_above_top"]
    top_mev = word_top(cfg) * cfg.lsb_mev
    found = {
        "clusters": int(len(below)),
        "clusters_clipped": int(np.sum((below > 0) | (above > 0))),
        "values_below_zero": int(below.sum()),
        "values_above_top": int(above.sum()),
        "top_mev": float(top_mev),
        "all_zero_clusters": int(np.sum(~x.reshape(len(x), -1).any(axis=1))),
    }
    line = (
        f"Input words ({cfg.adc_bits} bits of {cfg.lsb_mev:g} MeV, 0 to {top_mev:.10g} MeV): "
        f"{found['clusters_clipped']} of these {found['clusters']} clusters hold crystal values the word clips, "
        f"{found['values_below_zero']} below zero read as 0 and {found['values_above_top']} above the top read as "
        f"the top; {found['all_zero_clusters']} clusters are all zero."
    )
    return found, line


def evaluate(
    cfg: EclPhotonData, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path
) -> Physics:
    """The network against the shower-shape cuts at fixed photon efficiencies, overall and per energy."""
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
    from_file = "crystals_below_zero" in truth  # only a user file's clusters carry the clipped-value counts
    if from_file:
        found["input_words"], words_line = _input_words(cfg, test.x[rows], truth)
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
            "These clusters come from the model in `trigger_nn/tasks/ecl/simulation.py` (parameterised showers, "
            "no material in front of the calorimeter, no overlapping clusters): the absolute rejections are the "
            "model's; the comparison of the selections on the same clusters is the result.",
            "",
        ]
    if from_file:
        lines += [words_line, ""]
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
