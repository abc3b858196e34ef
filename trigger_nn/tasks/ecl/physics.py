"""Belle II ECL: the firmware's photons vs merged two-photon clusters, against the classical selections."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...artifacts import DatasetInfo
from ...dataset import Split
from ...errors import CardError
from .. import common
from ..common import NN, binned_fraction, figure
from ..protocol import Physics
from .baselines import CUTS, GBDT, cuts_of, truth_key
from .config import EclPhotonData, Granularity
from .shower_shapes import CRYSTAL, SHAPE_NAMES, TRIGGER_CELL, View
from .simulation import SOURCE_ALP, SOURCE_PI0, word_top

EFFICIENCIES = (0.90, 0.95)
#: the single cuts' colours in plots, clear of the network's black and the GBDTs' red and purple
CUT_COLOURS = dict(
    zip((c.name for c in CUTS), ("tab:blue", "tab:orange", "tab:green", "tab:brown", "tab:cyan"), strict=True)
)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """One way of keeping photons: the network's score or a shower-shape cut, at fixed photon efficiencies."""

    name: str
    roc: common.Roc
    auc: float
    cuts: dict[float, float]  # photon efficiency -> cut
    merged_pass: dict[float, float]  # photon efficiency -> fraction of merged clusters kept
    n_merged: int

    @classmethod
    def of(cls, name: str, scores: np.ndarray, is_photon: np.ndarray) -> Selection:
        r = common.roc(scores, is_photon)
        return cls(
            name=name,
            roc=r,
            auc=common.auc(r),
            cuts={e: common.threshold_at(r, e) for e in EFFICIENCIES},
            merged_pass={e: common.background_pass_at(r, e) for e in EFFICIENCIES},
            n_merged=int(np.sum(~np.asarray(is_photon, dtype=bool))),
        )

    def as_dict(self) -> dict[str, float]:
        out = {"auc": self.auc}
        for e in EFFICIENCIES:
            out[f"merged_rejection_at_{round(100 * e)}pct_photon_eff"] = 1.0 - self.merged_pass[e]
            # binomial, on the merged clusters at a fixed cut (the cut's own spread from the photons not included)
            p = self.merged_pass[e]
            out[f"merged_rejection_at_{round(100 * e)}pct_photon_eff_error"] = float(
                np.sqrt(p * (1 - p) / max(self.n_merged, 1))
            )
            out[f"merged_pass_at_{round(100 * e)}pct_photon_eff"] = self.merged_pass[e]
        return out


def _energy_edges(energy: np.ndarray) -> np.ndarray:
    """Seven bins over the energies present, edges rounded to 0.1 GeV."""
    edges = np.linspace(np.floor(energy.min() * 10) / 10, np.ceil(energy.max() * 10) / 10, 8)
    edges[-1] = np.nextafter(edges[-1], np.inf)
    return edges


def _rejection_binned(
    scores: dict[str, np.ndarray],
    selections: dict[str, Selection],
    values: np.ndarray,
    edges: np.ndarray,
    merged: np.ndarray,
    is_photon: np.ndarray | None,
) -> dict[str, Any]:
    """Per bin of ``values``, each selection at its 90 % photon-efficiency cut: the share of ``merged`` clusters
    it rejects and, where photons have the variable too (energy), the share of photons it keeps (a trigger
    must not lose its high-energy photons)."""
    which = np.digitize(values, edges) - 1
    n_bins = len(edges) - 1
    out: dict[str, Any] = {
        "bin_edges": [float(e) for e in edges],
        "clusters": [int(np.sum(merged & (which == b))) for b in range(n_bins)],
    }
    for name, s in scores.items():
        kept = s >= selections[name].cuts[0.90]
        rejection, error = binned_fraction(~kept[merged], which[merged], n_bins)
        out[name] = {"rejection": rejection, "rejection_error": error}
        if is_photon is not None:
            photon_eff, photon_err = binned_fraction(kept[is_photon], which[is_photon], n_bins)
            out[name] |= {"photon_eff": photon_eff, "photon_eff_error": photon_err}
    return out


def _rejections_of(scores: dict[str, np.ndarray], selections: dict[str, Selection], merged: np.ndarray) -> dict:
    """Each selection's rejection of the ``merged`` clusters at its 90 % and 95 % photon-efficiency cuts."""
    return {
        name: {f"{round(100 * e)}pct": float(np.mean(s[merged] < selections[name].cuts[e])) for e in EFFICIENCIES}
        for name, s in scores.items()
    }


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


def _head_to_head(
    scores: dict[str, np.ndarray],
    selections: dict[str, Selection],
    best: str,
    groups: dict[str, np.ndarray],
    energy: np.ndarray,
) -> list[dict[str, Any]]:
    """The network and the best classical selection, each at its 90 % and 95 % photon-efficiency cuts: rejection
    of all merged clusters, of the single-bump ones, and of the merged clusters in each energy bin."""
    rows = {g: groups[g] for g in ("all merged", "single-bump merged")}
    merged = groups["all merged"]
    if merged.any() and np.all(np.isfinite(energy)):
        edges = _energy_edges(energy[merged])
        which = np.digitize(energy, edges) - 1
        rows |= {f"{edges[b]:.1f}-{edges[b + 1]:.1f} GeV": merged & (which == b) for b in range(len(edges) - 1)}
    out = []
    for group, mask in rows.items():
        if not mask.any():
            continue
        r = _rejections_of({name: scores[name] for name in (NN, best)}, selections, mask)
        row: dict[str, Any] = {"group": group, "clusters": int(mask.sum())}
        for key, name in (("nn", NN), ("best", best)):
            row |= {f"{key}_{e}": v for e, v in r[name].items()}
            row |= {f"{key}_{e}_error": float(np.sqrt(v * (1 - v) / mask.sum())) for e, v in r[name].items()}
        out.append(row)
    return out


def _view_of(cfg: EclPhotonData) -> View:
    return CRYSTAL if cfg.granularity is Granularity.CRYSTAL else TRIGGER_CELL


def _classical(view: View, truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The view's GBDT and single cuts, scored so that higher is more photon-like."""
    shapes = {k: truth[truth_key(view, k)] for k in SHAPE_NAMES if truth_key(view, k) in truth}
    return {GBDT: truth[truth_key(view, "gbdt")].astype(np.float64)} | {
        c.name: c.score(shapes[c.key]) for c in cuts_of(shapes)
    }


def _table(selections: dict[str, Selection], rows: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """Markdown: AUC, then rejection at 90 % and 95 % photon efficiency for each group of merged clusters."""
    groups = list(rows)
    head = " | ".join(f"{g} at 90 % | at 95 %" for g in groups)
    lines = [f"| selection | AUC | {head} |", "|---|---|" + "---|---|" * len(groups)]
    for name, sel in selections.items():
        cells = " | ".join(f"{rows[g][name]['90pct']:.3f} | {rows[g][name]['95pct']:.3f}" for g in groups)
        lines.append(f"| {name} | {sel.auc:.4f} | {cells} |")
    return lines


def evaluate(
    cfg: EclPhotonData, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path
) -> Physics:
    """The network against the best classical selection of its own view, at fixed photon efficiencies: overall,
    on single-bump merged clusters, per energy and per photon separation."""
    is_photon = test.y[rows].astype(bool)
    truth = {k: v[rows] for k, v in test.truth.items()}
    view = _view_of(cfg)
    classical = _classical(view, truth)
    all_scores = {NN: np.asarray(scores, dtype=np.float64)} | classical
    other = TRIGGER_CELL if view is CRYSTAL else CRYSTAL
    other_name = f"{GBDT}, {other.name} view"
    if truth_key(other, "gbdt") in truth:  # simulated clusters carry both views
        all_scores[other_name] = truth[truth_key(other, "gbdt")].astype(np.float64)
    selections = {name: Selection.of(name, s, is_photon) for name, s in all_scores.items()}
    nn = selections[NN]
    best = max(classical, key=lambda name: 1 - selections[name].merged_pass[0.90])
    beats = nn.merged_pass[0.90] < selections[best].merged_pass[0.90]

    merged = ~is_photon
    maxima = truth[truth_key(CRYSTAL, "n_local_maxima")]
    groups = {
        "all merged": merged,
        "single-bump merged": merged & (maxima == 1),
        "several bumps": merged & (maxima > 1),
    }
    by_group = {g: _rejections_of(all_scores, selections, m) for g, m in groups.items() if m.any()}

    energy, source = truth["energy_gev"], truth["source"]
    simulated = bool(np.all(source >= 0))
    merged_of = {"pi0": merged & (source == SOURCE_PI0), "ALP": merged & (source == SOURCE_ALP)}
    if not simulated:
        merged_of = {"merged": merged}
    head_to_head = _head_to_head(all_scores, selections, best, groups, energy)
    by_energy: dict[str, Any] = {}
    if np.all(np.isfinite(energy)):
        by_energy = {
            kind: _rejection_binned(all_scores, selections, energy, _energy_edges(energy[sel]), sel, is_photon)
            for kind, sel in merged_of.items()
            if sel.any()
        }
    by_separation: dict[str, Any] = {}
    if simulated and merged.any():
        widths = truth["separation_cm"] / cfg.crystal_size_cm
        lo, hi = np.floor(widths[merged].min() * 2) / 2, np.ceil(widths[merged].max() * 2) / 2
        edges = np.arange(lo, max(hi, lo + 0.5) + 0.25, 0.5)  # half-crystal bins over the separations present
        edges[-1] = np.nextafter(edges[-1], np.inf)
        by_separation = _rejection_binned(all_scores, selections, widths, edges, merged, None)

    found: dict[str, Any] = {
        "vectors": int(len(scores)),
        "photons": int(is_photon.sum()),
        "merged_clusters": int(merged.sum()),
        "view": view.name,
        **nn.as_dict(),
        "baselines": {name: selections[name].as_dict() for name in classical},
        "best_classical": best,
        "nn_beats_best_classical_at_90pct_photon_eff": bool(beats),
        "local_maximum_threshold_mev": CRYSTAL.local_maximum_mev,
        "single_bump_merged_clusters": int(groups["single-bump merged"].sum()),
        "photons_with_several_maxima": int(np.sum(is_photon & (maxima > 1))),
        "merged_rejection_by_bumps": by_group,
        "nn_vs_best_classical": head_to_head,
        "rejection_at_90pct_photon_eff_vs_energy": by_energy,
        "rejection_at_90pct_photon_eff_vs_separation_crystals": by_separation,
    }
    if other_name in selections:
        found["other_view"] = {"name": other_name, **selections[other_name].as_dict()}
    from_file = "crystals_below_zero" in truth  # only a user file's clusters carry the clipped-value counts
    if from_file:
        found["input_words"], words_line = _input_words(cfg, test.x[rows], truth)
    paths = {"rejection": plots / "rejection.png", "examples": plots / "examples.png"}
    _plot_rejection(paths["rejection"], selections)
    if by_energy:
        paths["rejection_vs_energy"] = plots / "rejection_vs_energy.png"
        _plot_rejection_vs_energy(paths["rejection_vs_energy"], by_energy)
    if by_separation:
        paths["rejection_vs_separation"] = plots / "rejection_vs_separation.png"
        _plot_rejection_vs_separation(paths["rejection_vs_separation"], by_separation, cfg)
    _plot_clusters(paths["examples"], cfg, test, info)

    n_merged = max(int(merged.sum()), 1)
    several = found["photons_with_several_maxima"] / max(found["photons"], 1)
    what_view = (
        "crystal view: the finer input the upgrade proposes, not what today's Level-1 trigger receives"
        if view is CRYSTAL
        else "trigger-cell view: the 4 x 4-crystal sums today's Level-1 trigger receives"
    )
    lines = [
        f"**{what_view}.** {found['photons']} photons and {found['merged_clusters']} merged clusters of the test "
        f"set. Rejection = fraction of merged clusters a selection drops at the cut that keeps 90 % (95 %) of all "
        f"photons. Every classical selection is computed from the {view.name} images, as the network's input; "
        f"the {GBDT} is scikit-learn's histogram GBDT trained on the training clusters' shapes "
        f"({', '.join(SHAPE_NAMES[k] for k in SHAPE_NAMES if truth_key(view, k) in truth)}).",
        "",
        f"Local maxima are counted on the crystal image: a crystal above {CRYSTAL.local_maximum_mev:g} MeV and above "
        f"its 8 neighbours. {found['single_bump_merged_clusters']} of the merged clusters "
        f"({found['single_bump_merged_clusters'] / n_merged:.0%}) have one, the hard case offline clustering "
        f"cannot split; {found['photons_with_several_maxima']} photons ({several:.1%}) "
        "have more than one (background hits).",
        "",
        *_table(selections, by_group),
        "",
        f"The best classical selection at 90 % photon efficiency is **{best}**; the network "
        f"{'beats' if beats else 'does NOT beat'} it: rejection {1 - nn.merged_pass[0.90]:.3f} against "
        f"{1 - selections[best].merged_pass[0.90]:.3f}.",
        "",
        f"The network against {best}, on the merged clusters where it matters (rejection at the cuts that keep "
        "90 % and 95 % of all photons; ± the binomial error of the merged clusters' count, the two selections "
        "judged on the same clusters):",
        "",
        "| merged clusters | clusters | NN at 90 % | best classical at 90 % | NN at 95 % | best classical at 95 % |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r['group']} | {r['clusters']} | "
            + " | ".join(
                f"{r[k]:.3f} ± {r[k + '_error']:.3f}" for k in ("nn_90pct", "best_90pct", "nn_95pct", "best_95pct")
            )
            + " |"
            for r in head_to_head
        ],
        "",
    ]
    if other_name in selections:
        lines += [
            f"The line *{other_name}* is the same GBDT on the other view's shapes of the same clusters: it shows what "
            f"the {'finer' if other is CRYSTAL else 'coarser'} view gives a classical selection. The other view's "
            "network is in its own card's report; `trigger-nn compare` (run by `make run`) sets both side by side.",
            "",
        ]
    if simulated:
        lines += [
            "**What is a result here.** These clusters come from the model in `trigger_nn/tasks/ecl/simulation.py` "
            "(parameterised showers, no photon conversions, no overlapping clusters): the absolute rejections belong "
            "to that model. The result is the comparison on the same clusters: the network against the best "
            "classical selection of the same view, and the crystal view against the trigger-cell view.",
            "",
        ]
    if from_file:
        lines += [words_line, ""]
    for kind, table in by_energy.items():
        edges = table["bin_edges"]
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
    if by_separation:
        edges = by_separation["bin_edges"]
        lines += [
            "Rejection vs the photons' separation at the crystal face, in crystal widths "
            f"({cfg.crystal_size_cm:g} cm), each selection at its 90 % photon-efficiency cut:",
            "",
            "| separation (crystals) | clusters | " + " | ".join(all_scores) + " |",
            "|---|---|" + "---|" * len(all_scores),
            *[
                f"| {edges[b]:.1f}-{edges[b + 1]:.1f} | {by_separation['clusters'][b]} | "
                + " | ".join(f"{by_separation[name]['rejection'][b]:.3f}" for name in all_scores)
                + " |"
                for b in range(len(edges) - 1)
            ],
            "",
        ]
    lines += [f"![{k}](plots/{p.name})" for k, p in paths.items()]
    return Physics(metrics=found, markdown=lines, plots=paths)


def _style(name: str) -> dict[str, Any]:
    """The network bold black, the GBDT of this view dashed, the other view's dotted, single cuts thin."""
    if name == NN:
        return {"lw": 2.0, "color": "k"}
    if name == GBDT:
        return {"lw": 1.6, "ls": "--", "color": "tab:red"}
    if name.startswith(GBDT):
        return {"lw": 1.4, "ls": ":", "color": "tab:purple"}
    return {"lw": 1.0, "color": CUT_COLOURS.get(name, "tab:gray")}


def _plot_rejection(path: Path, selections: dict[str, Selection]) -> None:
    with figure(path, figsize=(5.5, 4.2)) as (_, ax):
        for s in selections.values():
            ax.plot(s.roc.signal_eff, 1 - s.roc.background_pass, label=f"{s.name} (AUC {s.auc:.3f})", **_style(s.name))
        for e in EFFICIENCIES:
            ax.axvline(e, color="grey", ls=":", lw=1)
        ax.set_xlim(0.5, 1.0)
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("photon efficiency")
        ax.set_ylabel("merged-cluster rejection")
        ax.set_title("Held-out clusters: NN firmware outputs vs the classical selections", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)


def _plot_rejection_vs_energy(path: Path, by_energy: dict[str, Any]) -> None:
    """Top: merged-cluster rejection; bottom: photon efficiency; each selection at its global 90 % cut."""
    k = len(by_energy)
    with figure(path, 2, k, figsize=(5.2 * k, 6.4), sharex="col", squeeze=False) as (_, axes):
        for col, (kind, table) in enumerate(by_energy.items()):
            edges = np.asarray(table["bin_edges"])
            centres = 0.5 * (edges[1:] + edges[:-1])
            for name in (k for k in table if k not in ("bin_edges", "clusters")):
                for ax, key in ((axes[0, col], "rejection"), (axes[1, col], "photon_eff")):
                    ax.errorbar(centres, table[name][key], yerr=table[name][f"{key}_error"], marker="o", ms=3,
                                capsize=2, label=name, **_style(name))  # fmt: skip
            axes[0, col].set_title(f"{kind} clusters; every cut at 90 % photon efficiency overall", fontsize=9)
            axes[0, col].set_ylabel("merged-cluster rejection")
            axes[1, col].set_ylabel("photon efficiency (photons of this energy)")
            axes[1, col].set_xlabel(f"{kind} / photon energy (GeV)")
            for ax in axes[:, col]:
                ax.set_ylim(0.0, 1.02)
                ax.grid(alpha=0.3)
            axes[0, col].legend(loc="best", fontsize=8)


def _plot_rejection_vs_separation(path: Path, table: dict[str, Any], cfg: EclPhotonData) -> None:
    edges = np.asarray(table["bin_edges"])
    centres = 0.5 * (edges[1:] + edges[:-1])
    with figure(path, figsize=(6.0, 4.4)) as (_, ax):
        for name in (k for k in table if k not in ("bin_edges", "clusters")):
            ax.errorbar(centres, table[name]["rejection"], yerr=table[name]["rejection_error"], marker="o", ms=3,
                        capsize=2, label=name, **_style(name))  # fmt: skip
        ax.set_xlabel(f"photon separation at the crystal face (crystal widths of {cfg.crystal_size_cm:g} cm)")
        ax.set_ylabel("merged-cluster rejection")
        ax.set_ylim(0.0, 1.02)
        ax.set_title("Merged clusters; every selection at 90 % photon efficiency overall", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)


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


def compare_views(names: list[str], cfgs: list[EclPhotonData], found: list[dict[str, Any]], plots: Path) -> Physics:
    """Cards of the same clusters side by side (the crystal and the trigger-cell view): each network against
    its own view's GBDT and best single cut, overall and on single-bump merged clusters, and against separation."""
    same = {dataclasses.replace(c, granularity=Granularity.CRYSTAL, tc_image_size=cfgs[0].tc_image_size) for c in cfgs}
    if len(same) > 1 or len({(f["vectors"], f["merged_clusters"]) for f in found}) > 1:
        raise CardError(
            f"compare: {', '.join(names)} are not built on the same clusters (their data sections differ in more "
            "than data.granularity and data.tc_image_size, or their verified test vectors differ); give them the "
            "same seed, data keys and verify.n_vectors"
        )
    groups = ("all merged", "single-bump merged")
    rows: list[dict[str, Any]] = []
    for name, f in zip(names, found, strict=True):
        cuts = [k for k in f["baselines"] if k != GBDT]
        best_cut = max(cuts, key=lambda k: f["baselines"][k]["merged_rejection_at_90pct_photon_eff"])
        by = f["merged_rejection_by_bumps"]
        for selection in (NN, GBDT, best_cut):
            auc = f["auc"] if selection == NN else f["baselines"][selection]["auc"]
            rejections = {f"{g}_{e}": by[g][selection][e] for g in groups if g in by for e in ("90pct", "95pct")}
            rows.append({"card": name, "view": f["view"], "selection": selection, "auc": auc} | rejections)
    lines = [
        "## Both views of the same clusters",
        "",
        f"{found[0]['merged_clusters']} merged clusters ({found[0]['single_bump_merged_clusters']} single-bump) and "
        f"{found[0]['photons']} photons, the same verified test vectors in every card. Rejection of merged clusters at "
        "the cuts that keep 90 % and 95 % of all photons; each network beside the GBDT on its own view's shower "
        "shapes and its view's best single cut.",
        "",
        "| card | view | selection | AUC | all merged at 90 % | at 95 % | single-bump at 90 % | at 95 % |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {r['card']} | {r['view']} | {r['selection']} | {r['auc']:.4f} | "
            + " | ".join(f"{r.get(f'{g}_{e}', float('nan')):.3f}" for g in groups for e in ("90pct", "95pct"))
            + " |"
            for r in rows
        ],
        "",
        "Absolute rejections belong to the simulation's model (`trigger_nn/tasks/ecl/simulation.py`); what the "
        "finer view buys over the coarser one, on the same clusters, is the result.",
        "",
    ]
    path = plots / "rejection_vs_separation.png"
    with figure(path, figsize=(6.4, 4.6)) as (_, ax):
        for i, (name, f) in enumerate(zip(names, found, strict=True)):
            table = f["rejection_at_90pct_photon_eff_vs_separation_crystals"]
            if not table:
                continue
            edges = np.asarray(table["bin_edges"])
            centres = 0.5 * (edges[1:] + edges[:-1])
            colour = f"C{i}"
            for selection, ls in ((NN, "-"), (GBDT, "--")):
                ax.errorbar(centres, table[selection]["rejection"], yerr=table[selection]["rejection_error"],
                            color=colour, ls=ls, marker="o", ms=3, capsize=2,
                            label=f"{name} ({f['view']}): {selection}")  # fmt: skip
        ax.set_xlabel("photon separation at the crystal face (crystal widths)")
        ax.set_ylabel("merged-cluster rejection at 90 % photon efficiency")
        ax.set_ylim(0.0, 1.02)
        ax.set_title("The same merged clusters seen by each card's view", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)
    lines.append(f"![rejection_vs_separation](plots/{path.name})")
    return Physics(metrics={"selections": rows}, markdown=lines, plots={"rejection_vs_separation": path})
