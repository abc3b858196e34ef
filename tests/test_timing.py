"""The pipeline cut chosen from the clock, and the delay model that times a stage."""

from __future__ import annotations

import numpy as np
import pytest

from trigger_nn.artifacts import ResourceCounts
from trigger_nn.card import FirmwareConfig
from trigger_nn.errors import BudgetError, CardError
from trigger_nn.firmware import timing

ULTRASCALE_PLUS = "xcvu13p-flga2577-2-e"


def _two_layer_logic(width_frac: int = 4):
    """A small dense network traced into da4ml logic: 16 inputs, two layers of 16 with a ReLU between."""
    from da4ml.trace import FixedVariableArrayInput, comb_trace

    w = np.random.default_rng(0).integers(-8, 8, (16, 16)) / 4
    x = FixedVariableArrayInput((16,)).quantize(1, 6, width_frac)
    y = (x @ w).relu().quantize(0, 8, 2) @ w
    return comb_trace(x, y)


@pytest.mark.parametrize(("clock_ns", "stages"), [(20.0, 1), (10.0, 2), (5.0, 3), (2.5, 5)])
def test_a_faster_clock_cuts_more_stages_each_within_the_period(clock_ns: float, stages: int) -> None:
    comb = _two_layer_logic()
    fw = FirmwareConfig(clock_period_ns=clock_ns)
    plan = timing.plan(timing.cut(comb, fw), fw)
    assert plan.latency_cycles == stages
    assert plan.cutoff_levels is None
    assert max(plan.stage_logic_ns) <= timing.stage_time_ns(fw) + 1e-9
    assert plan.timing_margin_ns >= 0


@pytest.mark.parametrize("clock_ns", [10.0, 5.0, 2.5])
def test_a_negated_output_is_timed_in_the_stage_that_writes_it(clock_ns: float) -> None:
    """da4ml negates an output as it writes it, after the last operation: that adder must fit the stage too."""
    from da4ml.trace import FixedVariableArrayInput, comb_trace

    w = np.random.default_rng(0).integers(-8, 8, (16, 16)) / 4
    x = FixedVariableArrayInput((16,)).quantize(1, 6, 4)
    comb = comb_trace(x, -((x @ w).relu().quantize(0, 8, 2) @ w))
    assert any(comb.out_negs)
    fw = FirmwareConfig(clock_period_ns=clock_ns)
    plan = timing.plan(timing.cut(comb, fw), fw)
    assert max(plan.stage_logic_ns) <= timing.stage_time_ns(fw) + 1e-9


def test_the_timed_cut_computes_what_the_logic_computes() -> None:
    comb = _two_layer_logic()
    pipeline = timing.cut(comb, FirmwareConfig(clock_period_ns=2.0))
    assert len(pipeline.solutions) > 4
    for x in np.random.default_rng(1).integers(-512, 512, (50, 16)) / 16:
        assert np.array_equal(pipeline(x), comb(x))


def test_wider_adders_take_longer() -> None:
    model = timing.delay_model(ULTRASCALE_PLUS)
    assert model.adder_ns(8) == pytest.approx(0.5 + 0.05)
    assert model.adder_ns(26) == pytest.approx(0.5 + 4 * 0.05)  # ecl_photon's widest: four blocks on the path
    narrow = timing.plan(timing.cut(_two_layer_logic(2), FirmwareConfig()), FirmwareConfig())
    wide = timing.plan(timing.cut(_two_layer_logic(12), FirmwareConfig()), FirmwareConfig())
    assert sum(wide.stage_logic_ns) > sum(narrow.stage_logic_ns)


def test_a_cutoff_on_the_card_cuts_at_adder_levels() -> None:
    comb = _two_layer_logic()
    fw = FirmwareConfig(clock_period_ns=5.0, pipeline_cutoff=1.0)
    plan = timing.plan(timing.cut(comb, fw), fw)
    assert plan.cutoff_levels == 1.0
    assert plan.latency_cycles == comb.latency[1]  # one stage per adder level


def test_a_clock_too_fast_for_the_widest_adder_is_refused() -> None:
    fw = FirmwareConfig(clock_period_ns=0.5)
    with pytest.raises(BudgetError, match=r"0\.5 ns clock leaves 0\.30 ns .* less than .*-bit result"):
        timing.cut(_two_layer_logic(), fw)


def test_a_latency_over_budget_is_refused() -> None:
    fw = FirmwareConfig(clock_period_ns=2.5, latency_budget_ns=10.0)
    with pytest.raises(BudgetError, match=r"needs 5 pipeline stages at 2\.5 ns = 12\.5 ns, over the latency budget"):
        timing.plan(timing.cut(_two_layer_logic(), fw), fw)


def test_an_unknown_family_is_named() -> None:
    with pytest.raises(CardError, match="firmware.part 'ep4cgx150' is not a part of a supported AMD/Xilinx family"):
        timing.delay_model("ep4cgx150")


def test_a_mapped_path_is_timed_cell_by_cell() -> None:
    path = ResourceCounts(luts=3, ffs=0, carries=6, dsps=0, brams=0, cells={"LUT2": 3, "INV": 1, "CARRY4": 6})
    depth = timing.logic_depth(path, FirmwareConfig(clock_period_ns=2.0))
    assert (depth.luts, depth.carries, depth.cells) == (4, 6, 10)  # the inverter is a LUT level
    assert depth.estimated_ns == pytest.approx(0.15 + 4 * 0.5 + 6 * 0.05)
    assert depth.margin_ns == pytest.approx(1.8 - 2.45)  # negative: not expected to close at 2 ns


def test_a_stage_that_maps_slower_than_modelled_gets_a_clock_that_holds_it() -> None:
    from trigger_nn.artifacts import LogicDepth

    slow = LogicDepth(luts=10, carries=23, cells=33, estimated_ns=6.30, usable_period_ns=4.5)
    assert timing.fitting_clock_ns(slow) == 7.0  # 6.30 ns is 90 % of 7.0 ns
