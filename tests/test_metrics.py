from __future__ import annotations

import numpy as np
import pytest

from trigger_nn.tasks import common as metrics


def test_roc_on_a_known_ranking() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 1, 0, 1, 0, 0])
    r = metrics.roc(scores, labels)
    np.testing.assert_allclose(r.signal_eff, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1])
    np.testing.assert_allclose(r.background_pass, [0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    assert metrics.auc(r) == pytest.approx(8 / 9)
    assert metrics.signal_eff_at(r, 0.0) == pytest.approx(2 / 3)
    assert metrics.background_pass_at(r, 1.0) == pytest.approx(1 / 3)


def test_tied_scores_are_one_threshold() -> None:
    r = metrics.roc(np.array([1.0, 1.0, 0.0, 0.0]), np.array([1, 0, 1, 0]))
    np.testing.assert_allclose(r.signal_eff, [0, 0.5, 1])
    np.testing.assert_allclose(r.background_pass, [0, 0.5, 1])
    assert metrics.auc(r) == pytest.approx(0.5)


def test_threshold_at_keeps_the_asked_efficiency() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 1, 0, 1, 0, 0])
    r = metrics.roc(scores, labels)
    cut = metrics.threshold_at(r, 0.9)
    assert cut == pytest.approx(0.6)  # the third signal sits below the first background
    assert np.mean(scores[labels == 1] >= cut) >= 0.9
    assert np.mean(scores[labels == 0] >= cut) == pytest.approx(metrics.background_pass_at(r, 0.9))
