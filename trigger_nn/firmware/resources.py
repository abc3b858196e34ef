"""The design's size, estimated before the long steps and checked against the card's part and this machine.

**LUTs.** da4ml's cost counts the bits of its adders (one LUT per bit, a carry chain beside it), plus
half a LUT per bit for a ReLU or a wrapping quantiser (``da4ml.trace.fixed_variable``). ``LUTS_PER_COST``
turns it into LUTs; it was fitted on Yosys 0.70's ``synth_xilinx -family xcup`` (out of context) LUT
counts of the Verilog da4ml wrote (LUT1-LUT6, inverters not counted; ``bench/bench_size.py --yosys``, the
default firmware section, for the committed models; the CNN measured the same way in an earlier session):

=============================  ==========  ==========  ======
design                         da4ml cost  Yosys LUTs  ratio
=============================  ==========  ==========  ======
cdms_lfn (committed model)          8,018       8,214   1.024
ecl_photon (committed model)        7,331       7,411   1.011
CNN 10x10x1, 3x3 convolutions      85,904      88,067   1.025
of 4 and 4 filters, dense 10
(untrained, 6-bit weights)
=============================  ==========  ==========  ======

as the mean of the three ratios (within 1.4 % of each other, over a tenfold range of sizes).

**Flip-flops** are the pipeline's register bits (da4ml's ``reg_bits``) and the top level's valid bits (one
per register stage, ``firmware/top.py``): an upper bound, since synthesis
drops constant and duplicate bits (Yosys kept all 1,253 of cdms_lfn and 2,052 of ecl_photon, 22,402 of
22,471 on the CNN). **DSPs**: none, da4ml's distributed arithmetic is adders.

**Before tracing.** da4ml's tracer solves a layer's constant-matrix multiplication (CMVM) for every input
vector: a convolution's kernel again at each of its positions, a dense layer once. On the 28 x 28 CNN of
the table below, the trace and the timed cut took 55 s, and hls4ml's project with its C simulation build
minutes more, before anything could be said of its size. :func:`pre_trace_cost` runs the same tracer with
the CMVMs replaced: each layer's kernel is solved once (by da4ml's own solver, without its search over
decomposition depths for a kernel of over ``SEARCH_MAX_WEIGHTS`` weights, a search that multiplies the
time on large kernels), its cost taken at every position, scaled by the input bits there, and only the
solved operations that reach an output counted (the trace drops the rest: activations a quantiser zeroes,
weights of zero). Every other operation (quantisers, ReLUs, biases) is traced as it is. Measured against
the traced cost:

====================================  ===========  ==============  ======  ========  =============
design                                traced cost  estimated cost  error   estimate  trace and cut
====================================  ===========  ==============  ======  ========  =============
cdms_lfn (committed model)                  8,018           7,931  -1.1 %     0.3 s          0.4 s
ecl_photon (committed model)                7,331           7,148  -2.5 %     0.2 s          0.3 s
CNN 10x10, 4 and 8 filters, dense 10      101,971          99,927  -2.0 %     0.6 s          4.3 s
CNN 28x28, 4 and 8 filters, dense 10    1,169,400       1,131,682  -3.2 %     8.2 s         55.0 s
====================================  ===========  ==============  ======  ========  =============

(``bench/bench_size.py``: the CNNs untrained, 6-bit weights, ranges traced on random 8-bit images; two
cores.) hls4ml's project with its C simulation build, which used to come first, adds minutes more.

The early check refuses only a design over its limit by more than ``PRE_TRACE_TOLERANCE``; one nearer
the limit is traced and checked on da4ml's own cost before anything is written.

**Verilator's memory.** A Verilated model is C++ that g++ compiles, and g++'s memory grows with the
Verilog: the review's CNN of cost 4.0 M (93 MB of Verilog) passed 14 GB in verify's build before it was
stopped. Peak memory of the whole build (the summed resident memory of its processes, sampled every
50 ms by ``bench/bench_size.py --memory``; Verilator 5, g++ 12 at -O1, two jobs), on this project's
machine:

===========================  ==========  ===============  ===========
design                       Verilog     emulation build  cocotb build
===========================  ==========  ===============  ===========
cdms_lfn                       0.10 MB         528 MiB        501 MiB
ecl_photon                     0.10 MB         603 MiB        473 MiB
CNN 10x10, 4 and 8 filters     1.12 MB       1,126 MiB      1,633 MiB
===========================  ==========  ===============  ===========

:data:`EMULATION_BUILD` and :data:`COSIM_BUILD` are the straight lines through the mean of the small
designs and the CNN: two sizes only (a 4 MB build takes over half an hour here), so they are estimates
that say when a build clearly cannot fit, as the 93 MB one could not (over 50 GB by either line).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import ResourceEstimate
from ..card import FirmwareConfig
from ..errors import BudgetError, ConversionError, ToolError
from .parts import device_of

log = logging.getLogger(__name__)

#: Yosys LUTs per unit of da4ml's cost: the mean of the three ratios in the module's table
LUTS_PER_COST = (8214 / 8018 + 7411 / 7331 + 88067 / 85904) / 3
CALIBRATION = (
    f"da4ml cost x {LUTS_PER_COST:.3f}, fitted on Yosys synth_xilinx LUT counts of three designs of cost 7.3 k to "
    "86 k (within 1.4 %); flip-flops: the pipeline's register bits and its valid bits, an upper bound"
)
#: how far over its limit the estimate made before tracing must be for the early refusal (module docstring)
PRE_TRACE_TOLERANCE = 0.2
#: kernels of more weights are solved without the search over decomposition depths (module docstring)
SEARCH_MAX_WEIGHTS = 2048


def lut_estimate(cost: float) -> int:
    return math.ceil(cost * LUTS_PER_COST)


def lut_limit(fw: FirmwareConfig) -> tuple[int, str]:
    """The most LUTs the design may take, and where that limit comes from."""
    device = device_of(fw.part)
    if fw.max_luts is not None:
        return fw.max_luts, f"firmware.max_luts ({fw.max_luts:,}; the {device.name} has {device.luts:,})"
    return device.luts, f"the {device.luts:,} LUTs of the {device.name} (firmware.part {fw.part})"


def estimate(
    cost: float, reg_bits: int, fw: FirmwareConfig, *, pre_trace_cost: float | None = None
) -> ResourceEstimate:
    """The traced design's estimate, with the limit it is checked against."""
    limit, limit_from = lut_limit(fw)
    return ResourceEstimate(
        da4ml_cost=float(cost),
        luts=lut_estimate(cost),
        ffs=int(reg_bits),
        dsps=0,
        calibration=CALIBRATION,
        limit_luts=limit,
        limit_from=limit_from,
        pre_trace_cost=pre_trace_cost,
    )


_WHAT_TO_DO = (
    "make the network smaller (fewer units or filters, pooling before a dense layer), train with a larger "
    "network.beta (HGQ2's resource regulariser), choose a larger firmware.part, or set "
    "firmware.allow_oversize: true to build it anyway"
)


def check(est: ResourceEstimate, fw: FirmwareConfig) -> None:
    """Refuse a traced design over its LUT limit (a warning only with ``firmware.allow_oversize``)."""
    if est.luts <= est.limit_luts:
        return
    message = (
        f"the design is estimated at ~{est.luts:,} LUTs (da4ml cost {est.da4ml_cost:,.0f} x {LUTS_PER_COST:.3f}, "
        f"calibrated on Yosys' mapped LUT counts), over {est.limit_from}"
    )
    if fw.allow_oversize:
        log.warning("%s; building it anyway (firmware.allow_oversize)", message)
        return
    raise BudgetError(f"{message}: {_WHAT_TO_DO}")


def check_before_tracing(model: Any, fw: FirmwareConfig) -> float | None:
    """Estimate the cost from the model in seconds and refuse a design clearly over its limit.

    Returns the estimated cost, or None where the estimate could not be made (the trace that
    follows then says why, or checks the design itself).
    """
    try:
        cost = pre_trace_cost(model)
    except ConversionError as err:
        log.debug("no estimate before tracing: %s", err)
        return None
    luts = lut_estimate(cost)
    limit, limit_from = lut_limit(fw)
    log.info("estimated before tracing: da4ml cost ~%.0f, ~%d LUTs (limit %d, %s)", cost, luts, limit, limit_from)
    if luts > limit * (1 + PRE_TRACE_TOLERANCE) and not fw.allow_oversize:
        raise BudgetError(
            f"the design is estimated at ~{luts:,} LUTs before tracing (da4ml cost ~{cost:,.0f} x "
            f"{LUTS_PER_COST:.3f}, calibrated on Yosys' mapped LUT counts), more than {PRE_TRACE_TOLERANCE:.0%} over "
            f"{limit_from}; tracing and writing it would take minutes: {_WHAT_TO_DO}"
        )
    return cost


# --------------------------------------------------------------------------------------------------------------
# da4ml's cost without tracing every constant-matrix multiplication


def _lsb(values: np.ndarray) -> np.ndarray:
    """The value of the lowest set bit of each (float, exactly binary) number; inf for zero."""
    mant, exp = np.frexp(values)
    ints = np.ldexp(mant, 53).astype(np.int64)
    low = ints & -ints
    return np.where(values == 0, np.inf, np.ldexp(low.astype(np.float64), exp - 53))


@dataclass
class _Call:
    """One CMVM the tracer asked for: its kernel's group, its input variables, the outputs handed back."""

    group: int
    inputs: np.ndarray  # FixedVariable, one per kernel row
    outputs: list[Any]  # FixedVariable, one per kernel column
    bits: float  # sum over rows of the input's width times the row's nonzero weights
    live: set[int] = field(default_factory=set)


@dataclass
class _Group:
    """The calls of one kernel with the same constant inputs, and the one among them that is solved."""

    kernel: np.ndarray
    options: dict[str, Any]
    rep: int  # the call with the most input bits
    solution: Any = None


def _bounds(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo = np.array([float(v.low) for v in inputs])
    hi = np.array([float(v.high) for v in inputs])
    step = np.array([float(v.step) for v in inputs])
    step = np.where(lo == hi, _lsb(lo), step)
    return lo, hi, step


def _widths(lo: np.ndarray, hi: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Bits of each value (sign, integer and fraction bits; 0 for a constant)."""
    span = np.maximum(-lo, hi + step) / np.where(np.isfinite(step), step, 1.0)
    bits = np.ceil(np.log2(np.maximum(span, 1.0))) + (lo < 0)
    return np.where(lo == hi, 0.0, bits)


def _outputs(kernel: np.ndarray, lo: np.ndarray, hi: np.ndarray, step: np.ndarray, hwconf: Any, latency: float):
    """The outputs' ranges by interval arithmetic (exact for a sum of independent terms), as fresh variables."""
    from da4ml.trace.fixed_variable import FixedVariable

    w = kernel.astype(np.float64)
    a, b = w * lo[:, None], w * hi[:, None]
    low, high = np.minimum(a, b).sum(axis=0), np.maximum(a, b).sum(axis=0)
    steps = np.where(w != 0, _lsb(w) * step[:, None], np.inf).min(axis=0)
    out = []
    for lo_j, hi_j, step_j in zip(low, high, steps, strict=True):
        if lo_j == hi_j or not np.isfinite(step_j):
            out.append(FixedVariable.from_const(float(lo_j) if lo_j == hi_j else 0.0, hwconf))
        else:
            out.append(FixedVariable(float(lo_j), float(hi_j), float(step_j), latency=latency, hwconf=hwconf))
    return out


class _CostTally:
    """Records the tracer's CMVMs instead of solving each: see :func:`pre_trace_cost`."""

    def __init__(self) -> None:
        self.calls: list[_Call] = []
        self.groups: list[_Group] = []
        self._group_of: dict[tuple[Any, ...], int] = {}
        self.fresh: dict[Any, tuple[int, int]] = {}  # variable id -> (call, output)

    def cmvm(self, kernel: np.ndarray, v: Any, solver_options: dict[str, Any]) -> np.ndarray:
        inputs = np.asarray(v._vars).ravel()
        hwconf = inputs[0].hwconf
        lo, hi, step = _bounds(inputs)
        const = lo == hi
        options = {k: val for k, val in solver_options.items() if k != "offload_fn"}
        options.setdefault("adder_size", hwconf.adder_size)
        options.setdefault("carry_size", hwconf.carry_size)
        if kernel.size > SEARCH_MAX_WEIGHTS:
            options.setdefault("search_all_decompose_dc", False)
        mat = np.ascontiguousarray(kernel, dtype=np.float32)
        key = (mat.shape, mat.tobytes(), const.tobytes(), lo[const].tobytes(), tuple(sorted(options.items())))
        bits = float(_widths(lo, hi, step) @ (mat != 0).sum(axis=1))
        index = len(self.calls)
        group = self._group_of.get(key)
        if group is None:
            group = self._group_of[key] = len(self.groups)
            self.groups.append(_Group(kernel=mat, options=options, rep=index))
        elif bits > self.calls[self.groups[group].rep].bits:
            self.groups[group].rep = index
        latency = max(float(x.latency) for x in inputs)
        outputs = _outputs(mat, lo, hi, step, hwconf, latency)
        self.calls.append(_Call(group=group, inputs=inputs, outputs=outputs, bits=bits))
        for j, out in enumerate(outputs):
            self.fresh[out.id] = (index, j)
        return np.array(outputs, dtype=object)

    def _solve(self, group: _Group) -> Any:
        from da4ml.cmvm import solve

        rep = self.calls[group.rep]
        lo, hi, step = _bounds(rep.inputs)
        qints = [(float(a), float(b), float(s)) for a, b, s in zip(lo, hi, step, strict=True)]
        latencies = [float(x.latency) for x in rep.inputs]
        return solve(group.kernel, qintervals=qints, latencies=latencies, **group.options)

    def cost(self, outputs: Iterable[Any]) -> float:
        """The cost of what reaches ``outputs``: traced operations once each, solved ones per call."""
        seen: set[Any] = set()
        total = 0.0

        def walk(roots: Iterable[Any]) -> None:
            nonlocal total
            stack = list(roots)
            while stack:
                var = stack.pop()
                if var.id in seen:
                    continue
                seen.add(var.id)
                if var.id in self.fresh:
                    call, j = self.fresh[var.id]
                    self.calls[call].live.add(j)
                    continue
                total += float(var.cost)
                stack.extend(var._from)

        walk(outputs)
        for call in reversed(self.calls):  # the trace's order is topological: a call's users were seen before it
            if not call.live:
                continue
            group = self.groups[call.group]
            if group.solution is None:
                group.solution = self._solve(group)
            rep_bits = self.calls[group.rep].bits
            cost, rows = _live_cost(group.solution, sorted(call.live))
            total += cost * (call.bits / rep_bits if rep_bits > 0 else 1.0)
            walk(call.inputs[i] for i in rows)
        return total


def _live_cost(pipeline: Any, outputs: list[int]) -> tuple[float, list[int]]:
    """The cost of the solved operations that reach ``outputs``, and the kernel rows (inputs) they read."""
    wanted = set(outputs)
    cost = 0.0
    for stage in reversed(pipeline.solutions):
        live: set[int] = set()
        stack = [stage.out_idxs[j] for j in wanted if stage.out_idxs[j] >= 0]
        inputs: set[int] = set()
        while stack:
            i = stack.pop()
            if i in live:
                continue
            live.add(i)
            op = stage.ops[i]
            if op.opcode == -1:
                inputs.add(op.id0)
                continue
            cost += float(op.cost)
            stack.extend(s for s in (op.id0, op.id1) if s >= 0 and op.opcode != 5)
            if op.opcode in (6, -6):
                stack.append(op.data & 0xFFFFFFFF)
        wanted = inputs
    return cost, sorted(wanted)


@contextlib.contextmanager
def _tallied() -> Iterator[_CostTally]:
    from da4ml.trace import fixed_variable_array

    tally, plain = _CostTally(), fixed_variable_array.cmvm
    fixed_variable_array.cmvm = tally.cmvm  # the name FixedVariableArray.matmul calls
    try:
        yield tally
    finally:
        fixed_variable_array.cmvm = plain


def pre_trace_cost(model: Any) -> float:
    """da4ml's cost of the model, estimated without solving each CMVM at each position (module docstring)."""
    from da4ml.converter import trace_model

    from .rtl import convergent_rounding, conversion_error

    try:
        with _tallied() as tally, convergent_rounding():
            _, out = trace_model(model)
        return tally.cost(np.asarray(out._vars).ravel())
    except Exception as err:
        raise conversion_error(err) from err


# --------------------------------------------------------------------------------------------------------------
# Verilator's memory


@dataclass(frozen=True)
class BuildMemory:
    """The peak memory of one way of building a Verilated model: a floor plus so much per byte of Verilog."""

    name: str
    base_bytes: int
    bytes_per_source_byte: float

    def need_bytes(self, source_bytes: int) -> int:
        return int(self.base_bytes + self.bytes_per_source_byte * source_bytes)


#: da4ml's ``RTLModel.compile()`` (verify's emulation) and cocotb's runner (cosim): the lines of the module docstring
EMULATION_BUILD = BuildMemory("da4ml's emulation build", 510 * 2**20, (1126 - 565) / 1.02)
COSIM_BUILD = BuildMemory("cocotb's Verilator build", 375 * 2**20, (1633 - 487) / 1.02)


def _size(sources: Iterable[Path]) -> int:
    return sum(Path(p).stat().st_size for p in sources)


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None  # absent, or "max" (no limit)


def available_memory_bytes() -> int:
    """What a new process can use now without swapping: ``MemAvailable`` of ``/proc/meminfo``, or less where
    this process's control group (a container, a batch slot) is limited (cgroup v2 ``memory.max`` less its use)."""
    have = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                have = int(line.split()[1]) * 1024
    except OSError:
        pass
    if have is None:
        from ..card import machine_memory_bytes

        have = machine_memory_bytes()
    limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        have = min(have, max(limit - used, 0))
    return have


def check_build_memory(sources: Iterable[Path], what: str, build: BuildMemory) -> None:
    """Refuse a Verilator build whose estimated peak memory exceeds what this machine has available now."""
    size = _size(sources)
    need, have = build.need_bytes(size), available_memory_bytes()
    if need <= have:
        return
    raise ToolError(
        f"the Verilator build of {what} would take about {need / 2**30:.1f} GiB of memory ({build.name}, estimated "
        f"from its {size / 2**20:.1f} MB of Verilog), more than the {have / 2**30:.1f} GiB this machine has "
        "available now: free memory, use a machine with more, or make the design smaller (`trigger-nn compile` "
        "logs its estimated LUTs)"
    )
