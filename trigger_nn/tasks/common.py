"""What every task measures alike: ROC, AUC, efficiencies at fixed rates, binned fractions, and the plots.

Scores are the firmware's (the test-set vectors verify found bit-identical in every implementation),
so every number is what the firmware decides. ``figure`` is the one way plots are made and saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..artifacts import DatasetInfo, atomic_path
from ..dataset import Split
from .protocol import Physics

log = logging.getLogger(__name__)
T = TypeVar("T")

#: how the network appears in tables and legends
NN = "NN (firmware)"


def _log_progress(done: int, total: int) -> None:
    if done == total or done % 10000 < 2000:
        log.info("  %d/%d events", done, total)


def simulate_splits(simulate: Callable[..., T], data: Any, seed: int, what: str) -> tuple[T, T]:
    """``data.n_train`` and ``data.n_test`` events of ``simulate(data, n, rng, progress=...)``.

    Train and test draw from separate streams of ``seed``, so changing n_train leaves the test set alone.
    """
    log.info("simulating %d training and %d test %s", data.n_train, data.n_test, what)
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return (
        simulate(data, data.n_train, train_rng, progress=_log_progress),
        simulate(data, data.n_test, test_rng, progress=_log_progress),
    )


@dataclass(frozen=True, kw_only=True)
class Roc:
    """Signal efficiency vs background pass rate, one point per distinct threshold."""

    background_pass: np.ndarray
    signal_eff: np.ndarray
    thresholds: np.ndarray


def roc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> Roc:
    """Accept when ``score >= threshold``; ties are kept together (firmware scores are discrete).

    ``weights``: each event's weight in the efficiencies (None: every event counts once).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1).astype(bool)
    w = np.ones(scores.size) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    s, lab, w = scores[order], labels[order], w[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    tp = np.cumsum(w * lab)[last_of_tie]
    fp = np.cumsum(w * ~lab)[last_of_tie]
    n_sig, n_bkg = (float(total) if total > 0 else 1.0 for total in (w[lab].sum(), w[~lab].sum()))
    return Roc(
        background_pass=np.r_[0.0, fp / n_bkg],
        signal_eff=np.r_[0.0, tp / n_sig],
        thresholds=np.r_[np.inf, s[last_of_tie]],
    )


def auc(r: Roc) -> float:
    return float(np.trapezoid(r.signal_eff, r.background_pass))


def signal_eff_at(r: Roc, background_pass: float) -> float:
    """Best signal efficiency with a background pass rate no higher than ``background_pass``."""
    ok = r.background_pass <= background_pass
    return float(r.signal_eff[ok].max())


def background_pass_at(r: Roc, signal_eff: float) -> float:
    """Lowest background pass rate that keeps at least ``signal_eff`` of the signal."""
    ok = r.signal_eff >= signal_eff
    return float(r.background_pass[ok].min())


def threshold_at(r: Roc, signal_eff: float) -> float:
    """The cut (accept ``score >= cut``) that keeps at least ``signal_eff`` of the signal with the fewest background."""
    return float(r.thresholds[np.flatnonzero(r.signal_eff >= signal_eff)[0]])


def summary(
    scores: np.ndarray, labels: np.ndarray, *, background: str, signal: str, weights: np.ndarray | None = None
) -> dict[str, float]:
    r = roc(scores, labels, weights)
    pred = np.asarray(scores).reshape(-1) >= 0
    right = pred == np.asarray(labels).reshape(-1).astype(bool)
    return {
        "auc": auc(r),
        "accuracy_at_logit_0": float(np.average(right, weights=weights)),
        f"{signal}_eff_at_1pct_{background}_pass": signal_eff_at(r, 0.01),
        f"{signal}_eff_at_5pct_{background}_pass": signal_eff_at(r, 0.05),
        f"{background}_pass_at_90pct_{signal}_eff": background_pass_at(r, 0.90),
        f"{background}_pass_at_95pct_{signal}_eff": background_pass_at(r, 0.95),
    }


def softmax(logits: np.ndarray) -> np.ndarray:
    """Each class's probability from the logits (float64), the score of one class against the rest."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def multiclass_summary(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """Several classes: the arg-max's accuracy, and the mean AUC of each class (its probability) against the rest."""
    labels = np.asarray(labels).reshape(-1)
    prob = softmax(logits)
    return {
        "auc": float(np.mean([auc(roc(prob[:, c], labels == c, weights)) for c in range(prob.shape[1])])),
        "accuracy": float(np.average(prob.argmax(axis=1) == labels, weights=weights)),
    }


def binned_fraction(passed: np.ndarray, which: np.ndarray, n_bins: int) -> tuple[list[float], list[float]]:
    """Fraction of ``passed`` in each bin and its binomial error (NaN for an empty bin)."""
    frac, err = [], []
    for b in range(n_bins):
        sel = passed[which == b]
        p = float(sel.mean()) if sel.size else float("nan")
        frac.append(p)
        err.append(float(np.sqrt(p * (1 - p) / sel.size)) if sel.size else float("nan"))
    return frac, err


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


def metric_table(found: dict[str, Any]) -> list[str]:
    """The float-valued metrics as a Markdown table."""
    return [
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {v:.4f} |" for k, v in found.items() if isinstance(v, float)],
    ]


GENERIC_PLOTS = ("![ROC](plots/roc.png)", "![example windows](plots/examples.png)")


def binary_classifier(test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path) -> Physics:
    """Any binary task: the summary figures of merit, the ROC, and example inputs of each class."""
    names = info.class_names
    labels = test.y[rows]
    found = {"vectors": int(len(scores)), **summary(scores, labels, background=names[0], signal=names[-1])}
    r = roc(scores, labels)
    paths = {"roc": plots / "roc.png", "examples": plots / "examples.png"}
    with figure(paths["roc"], figsize=(5, 4)) as (_, ax):
        ax.plot(r.background_pass, r.signal_eff, drawstyle="steps-post", label=f"{NN}, AUC {auc(r):.4f}")
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
    return Physics(metrics=found, markdown=[*metric_table(found), "", *GENERIC_PLOTS], plots=paths)
