"""Figures of merit of a labelled-data trigger, from the firmware's outputs on the test events.

Two classes: the ROC of the one logit, its AUC, the signal efficiency at fixed background pass rates and
the background pass rate at fixed signal efficiencies. Several classes: the decision is the arg-max of the
logits; the confusion matrix, each class's efficiency, and each class against the rest (its softmax
probability as the score) as for two. Every figure is weighted by the events' weights (all 1 without).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...dataset import Split
from ...errors import DataError
from ..common import NN, auc, background_pass_at, figure, roc, signal_eff_at, softmax
from ..protocol import Physics
from .config import LabelledData

#: background pass rates and signal efficiencies the tables give
PASS_RATES = (0.01, 0.10)
EFFICIENCIES = (0.90, 0.95)
#: bins of the plot variable (equal numbers of test events)
N_BINS = 8


def _pct(v: float) -> str:
    return f"{100 * v:g}pct"


def one_against_rest(scores: np.ndarray, is_signal: np.ndarray, w: np.ndarray, signal: str, rest: str) -> dict:
    r = roc(scores, is_signal, w)
    return {
        "auc": auc(r),
        **{f"{signal}_eff_at_{_pct(p)}_{rest}_pass": signal_eff_at(r, p) for p in PASS_RATES},
        **{f"{rest}_pass_at_{_pct(e)}_{signal}_eff": background_pass_at(r, e) for e in EFFICIENCIES},
    }


def evaluate(
    data: LabelledData, test: Split, names: tuple[str, ...], scores: np.ndarray, rows: np.ndarray, plots: Path
) -> Physics:
    y = test.y[rows]
    w = test.truth["weight"][rows]
    weight_of = np.bincount(y, weights=w, minlength=len(names))
    if (weight_of <= 0).any():
        missing = names[int(np.argmax(weight_of <= 0))]
        raise DataError(
            f"none of the {len(rows)} test events that verify sent through the firmware is of class {missing!r} "
            "(or all of them weigh 0), so its efficiency is undefined; raise verify.n_vectors to cover the test "
            "set, or check data.weights"
        )
    variable = test.truth["variable"][rows] if "variable" in test.truth else None
    weighted = data.weights is not None
    head = (
        f"Measured on the firmware's outputs for {len(rows)} test events"
        + (f", weighted by {data.weights!r}" if weighted else "")
        + ". The task knows nothing of your detector, so there is no classical selection beside the network: set "
        "your best one against it on the same test events (the test split of `data/dataset.h5`)."
    )
    if len(names) == 2:
        return _binary(data, Scored(names, scores.reshape(-1), y, w, variable), plots, head)
    return _multiclass(data, Scored(names, scores.reshape(len(rows), -1), y, w, variable), plots, head)


@dataclass(frozen=True)
class Scored:
    """The verified test events as the figures take them: the firmware's outputs, classes, weights, variable."""

    names: tuple[str, ...]
    scores: np.ndarray  # (n,) one logit, or (n, k) logits
    y: np.ndarray
    w: np.ndarray
    variable: np.ndarray | None


def _binary(data: LabelledData, events: Scored, plots: Path, head: str) -> Physics:
    scores, y, w, variable = events.scores, events.y, events.w, events.variable
    background, signal = events.names
    found = {
        "vectors": int(len(y)),
        **one_against_rest(scores, y == 1, w, signal, background),
        "accuracy_at_logit_0": float(np.sum(w * ((scores >= 0) == (y == 1))) / w.sum()),
    }
    r = roc(scores, y == 1, w)
    paths = {"roc": plots / "roc.png"}
    with figure(paths["roc"], figsize=(5, 4)) as (_, ax):
        ax.plot(r.background_pass, r.signal_eff, drawstyle="steps-post", label=f"{NN}, AUC {found['auc']:.4f}")
        ax.set_xscale("log")
        ax.set_xlim(max(1e-4, 0.5 / max(1, int(np.sum(y == 0)))), 1)
        ax.set_xlabel(f"{background} pass rate")
        ax.set_ylabel(f"{signal} efficiency")
        ax.set_title("ROC on the test events (firmware outputs)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right")
    lines = [head, "", "| figure of merit | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in found.items() if isinstance(v, float)]
    lines += ["", "![ROC](plots/roc.png)"]
    if variable is not None:
        cuts = {p: r.thresholds[np.flatnonzero(r.background_pass <= p)[-1]] for p in PASS_RATES}
        passed = {f"{signal} efficiency at {background} pass {100 * p:g} %": scores >= c for p, c in cuts.items()}
        paths["variable"] = plots / "efficiency_vs_variable.png"
        lines += ["", *_against_variable(data, passed, y == 1, w, variable, paths["variable"])]
    return Physics(metrics=found, markdown=lines, plots=paths)


def _multiclass(data: LabelledData, events: Scored, plots: Path, head: str) -> Physics:
    names, logits, y, w, variable = events.names, events.scores, events.y, events.w, events.variable
    k = len(names)
    pred = logits.argmax(axis=1)
    confusion = np.zeros((k, k))
    np.add.at(confusion, (y, pred), w)
    per_true = confusion / confusion.sum(axis=1, keepdims=True)
    prob = softmax(logits)
    per_class = {c: one_against_rest(prob[:, i], y == i, w, c, "rest") for i, c in enumerate(names)}
    found = {
        "vectors": int(len(y)),
        "auc": float(np.mean([m["auc"] for m in per_class.values()])),
        "accuracy": float(np.trace(confusion) / confusion.sum()),
        **{f"{c}_efficiency": float(per_true[i, i]) for i, c in enumerate(names)},
        **{f"{c}_vs_rest_{key}": v for c, m in per_class.items() for key, v in m.items()},
        "confusion_matrix": per_true.tolist(),
    }
    paths = {"confusion": plots / "confusion.png", "roc": plots / "roc.png"}
    with figure(paths["confusion"], figsize=(1.2 * k + 2.5, 1.1 * k + 1.8)) as (fig, ax):
        im = ax.imshow(per_true, vmin=0, vmax=1, cmap="Blues")
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{per_true[i, j]:.3f}", ha="center", va="center",
                        color="white" if per_true[i, j] > 0.5 else "black")  # fmt: skip
        ax.set_xticks(range(k), names, rotation=30)
        ax.set_yticks(range(k), names)
        ax.set_xlabel("firmware's class (arg-max of the logits)")
        ax.set_ylabel("true class")
        ax.set_title("confusion matrix, each true class's fractions")
        fig.colorbar(im, ax=ax)
    with figure(paths["roc"], figsize=(5, 4)) as (_, ax):
        for i, c in enumerate(names):
            r = roc(prob[:, i], y == i, w)
            ax.plot(
                r.background_pass, r.signal_eff, drawstyle="steps-post", label=f"{c}, AUC {per_class[c]['auc']:.3f}"
            )
        ax.set_xscale("log")
        ax.set_xlim(1e-3, 1)
        ax.set_xlabel("pass rate of the other classes")
        ax.set_ylabel("efficiency of the class")
        ax.set_title("each class against the rest (firmware outputs)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    lines = [
        head + " The firmware's class is the arg-max of its logits.",
        "",
        f"Accuracy {found['accuracy']:.4f}; AUC of each class against the rest, averaged: {found['auc']:.4f}.",
        "",
        "| true class \\ firmware's class | " + " | ".join(names) + " |",
        "|---|" + "---|" * k,
        *[f"| {c} | " + " | ".join(f"{v:.4f}" for v in per_true[i]) + " |" for i, c in enumerate(names)],
        "",
        "| class | efficiency (arg-max) | AUC vs rest | "
        + " | ".join(f"eff. at {100 * p:g} % rest pass" for p in PASS_RATES)
        + " |",
        "|---|---|---|" + "---|" * len(PASS_RATES),
        *[
            f"| {c} | {per_true[i, i]:.4f} | {per_class[c]['auc']:.4f} | "
            + " | ".join(f"{per_class[c][f'{c}_eff_at_{_pct(p)}_rest_pass']:.4f}" for p in PASS_RATES)
            + " |"
            for i, c in enumerate(names)
        ],
        "",
        "![confusion matrix](plots/confusion.png) ![ROC](plots/roc.png)",
    ]
    if variable is not None:
        passed = {f"{c} efficiency (arg-max)": pred == i for i, c in enumerate(names)}
        truths = {f"{c} efficiency (arg-max)": y == i for i, c in enumerate(names)}
        paths["variable"] = plots / "efficiency_vs_variable.png"
        lines += ["", *_against_variable(data, passed, truths, w, variable, paths["variable"])]
    return Physics(metrics=found, markdown=lines, plots=paths)


def _against_variable(
    data: LabelledData,
    passed: dict[str, np.ndarray],
    truth: np.ndarray | dict[str, np.ndarray],
    w: np.ndarray,
    variable: np.ndarray,
    path: Path,
) -> list[str]:
    """Each efficiency in bins of the plot variable (equal numbers of events), as a table and a plot."""
    edges = np.unique(np.quantile(variable, np.linspace(0, 1, N_BINS + 1)))
    if len(edges) < 2:
        return [f"{data.plot_variable!r} takes one value ({edges[0]:g}) on every test event: no bins to plot against."]
    which = np.clip(np.searchsorted(edges, variable, side="right") - 1, 0, len(edges) - 2)
    table: dict[str, list[float]] = {}
    for label, ok in passed.items():
        of = truth[label] if isinstance(truth, dict) else truth
        table[label] = [
            float(np.sum(w[sel] * ok[sel]) / np.sum(w[sel])) if np.sum(w[sel := of & (which == b)]) > 0 else np.nan
            for b in range(len(edges) - 1)
        ]
    centres = 0.5 * (edges[1:] + edges[:-1])
    with figure(path, figsize=(6, 4)) as (_, ax):
        for label, eff in table.items():
            ax.plot(centres, eff, "o-", label=label)
        ax.set_xlabel(data.plot_variable)
        ax.set_ylabel("efficiency")
        ax.set_ylim(0, 1.05)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    bins = [f"{lo:.3g}-{hi:.3g}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return [
        f"Efficiencies in bins of {data.plot_variable!r} (equal numbers of test events per bin):",
        "",
        f"| {data.plot_variable} | " + " | ".join(table) + " |",
        "|---|" + "---|" * len(table),
        *[f"| {b} | " + " | ".join(f"{table[lab][j]:.3f}" for lab in table) + " |" for j, b in enumerate(bins)],
        "",
        "![efficiency vs variable](plots/efficiency_vs_variable.png)",
    ]
