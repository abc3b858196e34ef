"""How long a pipeline stage takes: the cut chosen from the card's clock, the latency checked against its budget.

da4ml models logic depth in adder levels (with its default unit adder size, one adder of any
width is one level). A stage may hold as many levels as fit in the clock period after the clock
uncertainty da4ml's ``.xdc`` reserves and the flip-flops' own delay.

The nanoseconds are a model, not a timing sign-off. Per cell they are rounded typical values of
the -2 speed grades (AMD data sheets DS923, UltraScale+, and DS182/DS183, 7 series: LUT and
carry-chain switching times, clock-to-out and setup) plus an average routed net, of the order a
placed design shows. Per adder level they are what those cells add up to on the path Yosys maps
one level to: on this project's designs (Yosys 0.70 ``synth_xilinx``, ``ltp`` of the flat netlist)
1.5-1.6 LUTs and about 3 carry blocks per level, the extra LUTs being the ReLUs and negations
da4ml counts as free. Only a vendor place-and-route says whether a design closes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import LogicDepth, ResourceCounts, StagePlan
from ..card import FirmwareConfig
from ..errors import BudgetError
from .synth import family_of

#: the share of the clock period da4ml's constraints file sets aside as clock uncertainty
CLOCK_UNCERTAINTY = 0.1


@dataclass(frozen=True, kw_only=True)
class DelayModel:
    """Estimated delays of one FPGA family, in ns."""

    adder_ns: float  # one level of da4ml's model: 1.6 LUTs and 3 carry blocks of the mapped path
    lut_ns: float  # one LUT and its routed net, for paths counted in a mapped netlist
    carry_ns: float  # one carry-chain block (CARRY4 / CARRY8) passed through
    register_ns: float  # clock-to-out of the launching flip-flop plus setup of the capturing one


DELAYS = {
    "xcup": DelayModel(adder_ns=0.95, lut_ns=0.5, carry_ns=0.05, register_ns=0.15),
    "xc7": DelayModel(adder_ns=1.25, lut_ns=0.6, carry_ns=0.1, register_ns=0.4),
}


def delay_model(part: str) -> DelayModel:
    return DELAYS[family_of(part)]


def stage_time_ns(fw: FirmwareConfig) -> float:
    """What a stage's logic may take: the period less the clock uncertainty and the flip-flops."""
    return usable_period_ns(fw.clock_period_ns) - delay_model(fw.part).register_ns


def usable_period_ns(clock_period_ns: float) -> float:
    return clock_period_ns * (1 - CLOCK_UNCERTAINTY)


def max_stage_levels(fw: FirmwareConfig) -> int:
    """The most adder levels one clock period holds; a clock too fast for even one is refused."""
    model = delay_model(fw.part)
    levels = math.floor(stage_time_ns(fw) / model.adder_ns + 1e-9)
    if levels < 1:
        raise BudgetError(
            f"a {fw.clock_period_ns:g} ns clock leaves {stage_time_ns(fw):.2f} ns per stage for logic "
            f"(after {CLOCK_UNCERTAINTY:.0%} clock uncertainty and {model.register_ns} ns of flip-flop delay), "
            f"less than one adder level (~{model.adder_ns} ns on {fw.part}); lengthen firmware.clock_period_ns"
        )
    return levels


def pipeline_cutoff(fw: FirmwareConfig) -> float:
    """The card's ``pipeline_cutoff`` where it gives one, else the deepest stage the clock allows."""
    return fw.pipeline_cutoff if fw.pipeline_cutoff is not None else float(max_stage_levels(fw))


def stage_levels(pipeline_json: Path) -> tuple[float, ...]:
    """Adder levels between each stage's input registers and its outputs, from da4ml's saved pipeline."""
    from da4ml.types import Pipeline

    return tuple(
        float(max(stage.out_latency, default=0.0) - min(stage.inp_latency, default=0.0))
        for stage in Pipeline.load(pipeline_json).solutions
    )


def plan(pipeline_json: Path, fw: FirmwareConfig) -> StagePlan:
    """Time the cut pipeline; a design whose latency cannot meet the budget at this clock is refused."""
    levels = stage_levels(pipeline_json)
    model = delay_model(fw.part)
    result = StagePlan(
        stage_levels=levels,
        max_levels=max_stage_levels(fw),
        slowest_stage_ns=model.register_ns + max(levels) * model.adder_ns,
        usable_period_ns=usable_period_ns(fw.clock_period_ns),
        clock_period_ns=fw.clock_period_ns,
        latency_budget_ns=fw.latency_budget_ns,
    )
    if result.margin_cycles < 0:
        depth = sum(levels)
        raise BudgetError(
            f"the design needs {result.latency_cycles} pipeline stages at {fw.clock_period_ns:g} ns = "
            f"{result.latency_ns:g} ns, over the latency budget of {fw.latency_budget_ns:g} ns "
            f"({result.budget_cycles} cycles); its logic is {depth:g} adder levels deep and a stage holds at most "
            f"{result.max_levels} at this clock: raise firmware.latency_budget_ns, or make the network smaller or "
            "narrower (fewer units, a larger network.beta)"
            + ("; or drop firmware.pipeline_cutoff to cut by the clock" if fw.pipeline_cutoff is not None else "")
        )
    return result


def logic_depth(path: ResourceCounts, fw: FirmwareConfig) -> LogicDepth:
    """The longest path Yosys found between flip-flops, timed with the family's delay model."""
    model = delay_model(fw.part)
    luts = path.luts + path.cells.get("INV", 0)  # an inverter is a LUT1 to the vendor's mapper
    return LogicDepth(
        luts=luts,
        carries=path.carries,
        cells=sum(path.cells.values()),
        estimated_ns=model.register_ns + luts * model.lut_ns + path.carries * model.carry_ns,
        usable_period_ns=usable_period_ns(fw.clock_period_ns),
    )


def fitting_cutoff(depth: LogicDepth, stages: StagePlan, fw: FirmwareConfig) -> int:
    """The adder levels per stage that would fit the clock at the rate the mapped slowest stage shows."""
    register_ns = delay_model(fw.part).register_ns
    per_level = (depth.estimated_ns - register_ns) / max(max(stages.stage_levels), 1.0)
    return max(1, math.floor((depth.usable_period_ns - register_ns) / per_level + 1e-9))
