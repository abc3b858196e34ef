"""The pipeline cut chosen from the clock, and the delay model that times a stage."""

from __future__ import annotations

import pytest

from trigger_nn.artifacts import ResourceCounts
from trigger_nn.card import FirmwareConfig
from trigger_nn.errors import BudgetError
from trigger_nn.firmware import timing

ULTRASCALE_PLUS = "xcvu13p-flga2577-2-e"
SEVEN_SERIES = "xc7k325tffg900-2"


@pytest.mark.parametrize(
    ("part", "clock_ns", "levels"),
    [
        (ULTRASCALE_PLUS, 5.0, 4),  # (4.5 - 0.15) / 0.95 = 4.6
        (ULTRASCALE_PLUS, 2.5, 2),  # (2.25 - 0.15) / 0.95 = 2.2
        (ULTRASCALE_PLUS, 1.25, 1),  # (1.125 - 0.15) / 0.95 = 1.03
        (SEVEN_SERIES, 5.0, 3),  # (4.5 - 0.4) / 1.25 = 3.3
    ],
)
def test_a_faster_clock_holds_fewer_adder_levels_per_stage(part: str, clock_ns: float, levels: int) -> None:
    fw = FirmwareConfig(part=part, clock_period_ns=clock_ns)
    assert timing.max_stage_levels(fw) == levels
    assert timing.pipeline_cutoff(fw) == levels  # no cutoff on the card: the clock decides


def test_a_cutoff_on_the_card_overrides_the_clock() -> None:
    assert timing.pipeline_cutoff(FirmwareConfig(clock_period_ns=5.0, pipeline_cutoff=3.0)) == 3.0


def test_a_clock_shorter_than_one_adder_is_refused() -> None:
    with pytest.raises(BudgetError, match=r"0\.5 ns clock leaves 0\.30 ns .* less than one adder level"):
        timing.max_stage_levels(FirmwareConfig(clock_period_ns=0.5))


def test_an_unknown_family_is_named() -> None:
    with pytest.raises(Exception, match="no Yosys synth_xilinx family for part 'ep4cgx150'"):
        timing.max_stage_levels(FirmwareConfig(part="ep4cgx150"))


def test_a_mapped_path_is_timed_cell_by_cell() -> None:
    path = ResourceCounts(luts=3, ffs=0, carries=6, dsps=0, brams=0, cells={"LUT2": 3, "INV": 1, "CARRY4": 6})
    depth = timing.logic_depth(path, FirmwareConfig(clock_period_ns=2.0))
    assert (depth.luts, depth.carries, depth.cells) == (4, 6, 10)  # the inverter is a LUT level
    assert depth.estimated_ns == pytest.approx(0.15 + 4 * 0.5 + 6 * 0.05)
    assert depth.margin_ns == pytest.approx(1.8 - 2.45)  # negative: not expected to close at 2 ns


def test_a_stage_that_maps_slower_than_modelled_gets_a_cutoff_that_fits() -> None:
    from trigger_nn.artifacts import LogicDepth, StagePlan

    fw = FirmwareConfig(clock_period_ns=5.0)
    plan = StagePlan(
        stage_levels=(4.0, 4.0, 2.0), max_levels=4, slowest_stage_ns=3.95, usable_period_ns=4.5,
        clock_period_ns=5.0, latency_budget_ns=1600.0,
    )  # fmt: skip
    slow = LogicDepth(luts=10, carries=23, cells=33, estimated_ns=6.30, usable_period_ns=4.5)  # ecl_photon's
    assert timing.fitting_cutoff(slow, plan, fw) == 2  # 1.54 ns per level: 2 levels in 4.35 ns
    fits = LogicDepth(luts=7, carries=17, cells=24, estimated_ns=4.50, usable_period_ns=4.5)  # cdms_lfn's
    assert timing.fitting_cutoff(fits, plan, fw) == 4
