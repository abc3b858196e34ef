"""The CDMS operating points: the OF-alone threshold at the LFN pass target, and OF + NN at the same rate."""

from __future__ import annotations

import numpy as np
import pytest

from trigger_nn.tasks.cdms.config import CdmsLfnData
from trigger_nn.tasks.cdms.physics import _cut_keeping, _operating_points
from trigger_nn.tasks.cdms.simulation import EventKind


def test_cut_keeping_lets_exactly_k_through() -> None:
    values = np.array([5.0, 1.0, 4.0, 3.0, 2.0])
    cut = _cut_keeping(values, 2)
    assert np.sum(values >= cut) == 2 and cut > 3.0
    assert _cut_keeping(values, 5) == -np.inf


def test_a_network_that_knows_lfn_lets_the_threshold_go_to_the_floor() -> None:
    rng = np.random.default_rng(0)
    cfg = CdmsLfnData(lfn_pass_target=0.05, of_threshold_floor_sigma=4.0)
    n = 4000
    kind = np.where(np.arange(n) % 2 == 0, EventKind.SIGNAL, EventKind.LFN)
    energy = np.where(kind == EventKind.SIGNAL, rng.uniform(0.5, 15.0, n), np.nan)
    peak = np.where(kind == EventKind.SIGNAL, energy + rng.normal(size=n), 1.5 + rng.exponential(2.0, n))
    lfn = kind == EventKind.LFN
    for score, floor_reached in ((np.where(lfn, 0.0, 1.0), True), (rng.random(n), False)):
        of, nn = _operating_points(cfg, peak, score, kind, energy)
        assert np.mean(peak[lfn] >= of.threshold) <= 0.05
        assert np.mean(nn.passes(peak[lfn], score[lfn])) <= 0.05
        if floor_reached:  # a perfect network: the floor is the only limit
            assert nn.threshold == pytest.approx(4.0)
        else:  # a network that knows nothing gains (almost) nothing
            assert nn.threshold > of.threshold - 1.0
