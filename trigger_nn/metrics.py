"""Trigger figures of merit from scores: ROC, AUC, efficiency at a fixed background pass rate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Roc:
    """Signal efficiency vs background pass rate, one point per distinct threshold."""

    background_pass: np.ndarray
    signal_eff: np.ndarray
    thresholds: np.ndarray


def roc(scores: np.ndarray, labels: np.ndarray) -> Roc:
    """Accept when ``score >= threshold``; ties are kept together (firmware scores are discrete)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1).astype(bool)
    order = np.argsort(-scores, kind="stable")
    s, lab = scores[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    tp = np.cumsum(lab)[last_of_tie]
    fp = np.cumsum(~lab)[last_of_tie]
    n_sig, n_bkg = max(int(lab.sum()), 1), max(int((~lab).sum()), 1)
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


def summary(scores: np.ndarray, labels: np.ndarray, *, background: str, signal: str) -> dict[str, float]:
    r = roc(scores, labels)
    pred = np.asarray(scores).reshape(-1) >= 0
    return {
        "auc": auc(r),
        "accuracy_at_logit_0": float(np.mean(pred == np.asarray(labels).reshape(-1).astype(bool))),
        f"{signal}_eff_at_1pct_{background}_pass": signal_eff_at(r, 0.01),
        f"{signal}_eff_at_5pct_{background}_pass": signal_eff_at(r, 0.05),
        f"{background}_pass_at_90pct_{signal}_eff": background_pass_at(r, 0.90),
        f"{background}_pass_at_95pct_{signal}_eff": background_pass_at(r, 0.95),
    }
