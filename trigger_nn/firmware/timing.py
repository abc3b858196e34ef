"""How long a pipeline stage takes: the cut chosen from the card's clock, the latency checked against its budget.

Each of da4ml's operations is timed from its width: an adder is a LUT level plus its carry chain, a ReLU
or a multiplexer one LUT, a negation an adder of its own, a truncation nothing. The stages are cut so
that the slowest path inside each fits the clock period after the clock uncertainty da4ml's ``.xdc``
reserves and the flip-flops' own delay.

The nanoseconds are a model, not a timing sign-off. Per cell they are rounded typical values of the
-2 speed grades (AMD data sheets DS923, UltraScale+, and DS182/DS183, 7 series: LUT and carry-chain
switching times, clock-to-out and setup) plus an average routed net, of the order a placed design
shows. Per adder, the carry blocks on the path are one per 8 bits: the ripples of adders in series
overlap, so about half of each adder's CARRY4 blocks lie on the longest path. With that count the
model's slowest stage matched the longest path Yosys 0.70 mapped (``synth_xilinx``, ``ltp`` of the flat
netlist) to within 0.05 ns on both default designs, cut at four adder levels per stage: cdms_lfn
7 LUTs + 18 blocks modelled against 7 + 17 mapped, ecl_photon 10 + 22 against 10 + 23. An earlier
model that counted adder levels alone, whatever their width, put ecl_photon's 26-bit stages 2.3 ns
too fast. Only a vendor place-and-route says whether a design closes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..artifacts import LogicDepth, ResourceCounts, StagePlan
from ..card import FirmwareConfig
from ..errors import BudgetError
from .parts import family_of

log = logging.getLogger(__name__)

#: the share of the clock period da4ml's constraints file sets aside as clock uncertainty
CLOCK_UNCERTAINTY = 0.1


@dataclass(frozen=True, kw_only=True)
class DelayModel:
    """Estimated delays of one FPGA family, in ns."""

    lut_ns: float  # one LUT and its routed net
    carry_ns: float  # one carry-chain block passed through
    carry_bits: int  # bits of an adder per carry block on the longest path
    register_ns: float  # clock-to-out of the launching flip-flop plus setup of the capturing one

    def adder_ns(self, width: int) -> float:
        return self.lut_ns + math.ceil(width / self.carry_bits) * self.carry_ns


DELAYS = {
    "xcup": DelayModel(lut_ns=0.5, carry_ns=0.05, carry_bits=8, register_ns=0.15),
    "xc7": DelayModel(lut_ns=0.6, carry_ns=0.1, carry_bits=8, register_ns=0.4),
}


def delay_model(part: str) -> DelayModel:
    return DELAYS[family_of(part)]


def usable_period_ns(clock_period_ns: float) -> float:
    return clock_period_ns * (1 - CLOCK_UNCERTAINTY)


def stage_time_ns(fw: FirmwareConfig) -> float:
    """What a stage's logic may take: the period less the clock uncertainty and the flip-flops."""
    return usable_period_ns(fw.clock_period_ns) - delay_model(fw.part).register_ns


def _width(qint: Any) -> int:
    from da4ml.types import minimal_kif

    return int(sum(minimal_kif(qint)))


def _sources(op: Any) -> list[int]:
    """The buffer entries an operation reads (an input marker's ``id0`` indexes the input, not a buffer)."""
    if op.opcode in (-1, 5):
        return []
    ids = [i for i in (op.id0, op.id1) if i >= 0]
    if op.opcode in (6, -6):
        ids.append(op.data & 0xFFFFFFFF)  # the selecting value
    return ids


def op_delay_ns(op: Any, ops: Sequence[Any], model: DelayModel) -> float:
    """One operation of da4ml's logic, as the Verilog da4ml writes implements it."""
    code = op.opcode
    if code in (0, 1, 4):  # a +/- b << s, and a + constant: a carry chain as wide as the result
        return model.adder_ns(_width(op.qint))
    if code == 2:  # ReLU: each bit ANDed with the inverted sign, free when the input cannot be negative
        return model.lut_ns if ops[op.id0].qint.min < 0 else 0.0
    if code in (-2, -3):  # ReLU or truncation of a negated value: the negation is an adder
        return model.adder_ns(_width(ops[op.id0].qint)) + (model.lut_ns if code == -2 else 0.0)
    if code in (6, -6, 9, -9, 10):  # multiplexer, bitwise logic
        return model.lut_ns
    if code == 7:  # multiplier of two variables: a tree of adders as deep as the narrower operand is wide
        narrow = min(_width(ops[op.id0].qint), _width(ops[op.id1].qint))
        return math.ceil(math.log2(max(narrow, 2))) * model.adder_ns(_width(op.qint))
    if code == 8:  # lookup table: LUT6 levels for the input bits beyond six (da4ml's own count)
        return max(_width(ops[op.id0].qint) - 6, 1) * model.lut_ns
    return 0.0  # input, constant, truncation: wiring


def _output_negations_ns(
    ops: Sequence[Any], out_idxs: Sequence[int], out_negs: Sequence[bool], model: DelayModel
) -> list[float]:
    """Per operation, the time its result still takes after it: the negation da4ml writes at a negated output."""
    tails = [0.0] * len(ops)
    for i, negated in zip(out_idxs, out_negs, strict=True):
        if i >= 0 and negated:
            tails[i] = model.adder_ns(_width(ops[i].qint))
    return tails


def _schedule(
    ops: Sequence[Any], delays: Sequence[float], tails: Sequence[float], budget_ns: float
) -> tuple[list[int], list[float]]:
    """Each operation's stage and its arrival time in that stage, registering its inputs when it would not fit.

    ``tails`` is the time an operation's result still needs in its stage after it: the negation of a
    negated output, which da4ml writes at the output, not as an operation.
    """
    stage: list[int] = []
    arrival: list[float] = []
    for op, delay, tail in zip(ops, delays, tails, strict=True):
        sources = _sources(op)
        s = max((stage[i] for i in sources), default=0)
        start = max((arrival[i] for i in sources if stage[i] == s), default=0.0)
        if start + delay + tail > budget_ns + 1e-9:
            s, start = s + 1, 0.0
        stage.append(s)
        arrival.append(start + delay)
    return stage, arrival


def cut(comb: Any, fw: FirmwareConfig) -> Any:
    """da4ml's pipeline for the card: at its ``pipeline_cutoff`` in adder levels, else timed to fit the clock.

    The timed cut registers as late as the delay model allows, then shortens the stage time to the
    least that keeps as few stages, so the stages come out balanced with the slack shared.
    """
    from da4ml.trace.pipeline import to_pipeline

    if fw.pipeline_cutoff is not None:
        return to_pipeline(comb, fw.pipeline_cutoff, verbose=False)
    model = delay_model(fw.part)
    budget = stage_time_ns(fw)
    delays = [op_delay_ns(op, comb.ops, model) for op in comb.ops]  # once: the search below schedules ~30 times
    tails = _output_negations_ns(comb.ops, comb.out_idxs, comb.out_negs, model)
    whole = [d + t for d, t in zip(delays, tails, strict=True)]
    slowest_ns = max(whole)
    slowest = whole.index(slowest_ns)
    what = f"a {_width(comb.ops[slowest].qint)}-bit result" + (" negated at the output" if tails[slowest] else "")
    if slowest_ns > budget:
        raise BudgetError(
            f"a {fw.clock_period_ns:g} ns clock leaves {budget:.2f} ns per stage for logic (after "
            f"{CLOCK_UNCERTAINTY:.0%} clock uncertainty and {model.register_ns} ns of flip-flop delay), less than "
            f"the design's slowest single operation ({what}, ~{slowest_ns:.2f} ns on {fw.part}); lengthen "
            "firmware.clock_period_ns"
        )
    stages = max(_schedule(comb.ops, delays, tails, budget)[0]) + 1
    low, high = slowest_ns, budget
    for _ in range(30):  # the shortest stage time that needs no more stages
        mid = (low + high) / 2
        if max(_schedule(comb.ops, delays, tails, mid)[0]) + 1 > stages:
            low = mid
        else:
            high = mid
    stage, arrival = _schedule(comb.ops, delays, tails, high)
    # da4ml cuts where an operation's latency crosses a multiple of the cutoff: hand it stage x period + arrival
    timed = [op._replace(latency=s * high + t) for op, s, t in zip(comb.ops, stage, arrival, strict=True)]
    return to_pipeline(comb._replace(ops=timed), high, retiming=False, verbose=False)


def stage_logic_ns(pipeline: Any, model: DelayModel) -> tuple[float, ...]:
    """The slowest path of each stage between its input registers and its outputs."""
    result = []
    for stage in pipeline.solutions:
        arrival: list[float] = []
        for op in stage.ops:
            start = max((arrival[i] for i in _sources(op)), default=0.0)
            arrival.append(start + op_delay_ns(op, stage.ops, model))
        tails = _output_negations_ns(stage.ops, stage.out_idxs, stage.out_negs, model)
        outputs = [arrival[i] + tails[i] for i in stage.out_idxs if i >= 0]
        result.append(max(outputs, default=0.0))
    return tuple(result)


def plan(pipeline: Any, fw: FirmwareConfig) -> StagePlan:
    """Time the cut pipeline; a design whose latency cannot meet the budget at this clock is refused."""
    model = delay_model(fw.part)
    logic = stage_logic_ns(pipeline, model)
    result = StagePlan(
        stage_logic_ns=logic,
        cutoff_levels=fw.pipeline_cutoff,
        slowest_stage_ns=model.register_ns + max(logic),
        usable_period_ns=usable_period_ns(fw.clock_period_ns),
        clock_period_ns=fw.clock_period_ns,
        latency_budget_ns=fw.latency_budget_ns,
    )
    if result.margin_cycles < 0:
        raise BudgetError(
            f"the design needs {result.latency_cycles} pipeline stages at {fw.clock_period_ns:g} ns = "
            f"{result.latency_ns:g} ns, over the latency budget of {fw.latency_budget_ns:g} ns "
            f"({result.budget_cycles} cycles); its logic is ~{sum(logic):.1f} ns deep: raise "
            "firmware.latency_budget_ns, or make the network smaller or narrower (fewer units, a larger network.beta)"
            + ("; or drop firmware.pipeline_cutoff to cut by the clock" if fw.pipeline_cutoff is not None else "")
        )
    if result.timing_margin_ns < 0:
        log.warning(
            "the slowest stage is estimated at ~%.2f ns, more than the %.2f ns a %g ns clock leaves%s",
            result.slowest_stage_ns, result.usable_period_ns, fw.clock_period_ns,
            f" at firmware.pipeline_cutoff {fw.pipeline_cutoff:g}; drop it to cut by the clock"
            if fw.pipeline_cutoff is not None else "",
        )  # fmt: skip
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


def fitting_clock_ns(depth: LogicDepth) -> float:
    """The clock period whose usable part holds the slowest stage as Yosys mapped it."""
    return math.ceil(depth.estimated_ns / (1 - CLOCK_UNCERTAINTY) * 10) / 10
