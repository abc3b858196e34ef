"""cocotb testbench: stream vectors through a da4ml pipeline, check every output, measure latency and II.

Input: the job ``.npz`` named by ``$TRIGGER_NN_COSIM_JOB`` (written by
:func:`trigger_nn.firmware.cosim.run_cosim`): raw input words, the Python
reference's raw output words, both bus formats, the expected latency and the
largest latency to search.
Output: the JSON result named by ``$TRIGGER_NN_COSIM_RESULT``.

The design is da4ml's ``<name>_wrapper`` (ports ``clk``, ``model_inp``, ``model_out``;
no valid or ready: a new input is taken at every rising edge). Each cycle the
driver puts a value on ``model_inp`` at the falling edge before rising edge
``k``; the monitor samples ``model_out`` after rising edge ``k`` (``RisingEdge``
then ``ReadOnly``). The latency ``L`` is measured, not assumed: it is the
unique ``L`` in ``[0, max_latency]`` for which the output sampled at cycle
``k + L`` is the reference output of the vector captured at edge ``k``; it is
pinned by vectors whose output differs from their neighbours', and it tolerates a
few wrong vectors (at most half) so that a mismatch is still reported at the right
cycle. With that ``L`` every driven cycle is checked; ``mismatches`` counts the
vectors wrong at any of their cycles. The II is the fewest cycles between two
successive inputs that both came out right: 1 when a new vector every clock passes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from trigger_nn.artifacts import WordVectors
from trigger_nn.firmware.cosim import JOB_ENV, RESULT_ENV, StreamVerdict

#: simulated clock period; the design has no timing in it, the real period is applied by the caller
SIM_CLOCK_PERIOD_NS = 5
#: ``applied`` entry of a cycle that carries no vector (an idle gap: random bits on the bus)
BUBBLE = -1
#: a sample that was not 0/1 on every bit (never equal to a reference word)
UNRESOLVED = -1
#: chance that an idle gap follows a vector, and the longest gap, when ``idle_gaps`` is set
GAP_PROBABILITY = 0.125
MAX_GAP_CYCLES = 3


@dataclass(frozen=True, kw_only=True)
class StreamJob(WordVectors):
    """What to stream and what to expect, as :func:`trigger_nn.firmware.cosim.run_cosim` wrote it."""

    expected_latency: int
    max_latency: int
    idle_gaps: bool
    seed: int

    @classmethod
    def load(cls, path: Path) -> StreamJob:
        with np.load(path) as job:
            return cls(
                **WordVectors.fields_from_npz(job),
                expected_latency=int(job["expected_latency"]),
                max_latency=int(job["max_latency"]),
                idle_gaps=bool(job["idle_gaps"]),
                seed=int(job["seed"]),
            )

    @property
    def n_vectors(self) -> int:
        return int(self.inp_words.shape[0])


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """Which vector is on ``model_inp`` at each capturing rising edge (cycle).

    Cycles ``[0, flush)`` hold vector 0 to flush the pipeline; vector ``i`` then has its
    own slot at ``accept_cycle[i]`` (one per clock, or with idle gaps between some);
    the last vector is held until every latency up to ``max_latency`` has drained.
    """

    applied: tuple[int, ...]
    accept_cycle: tuple[int, ...]
    bubble_bus: dict[int, int]

    @property
    def n_cycles(self) -> int:
        return len(self.applied)

    @classmethod
    def make(cls, *, n_vectors: int, max_latency: int, idle_gaps: bool, bus_width: int, seed: int) -> Schedule:
        rng = np.random.default_rng(seed)
        flush = drain = max_latency + 2
        applied = [0] * flush
        accept_cycle = []
        bubble_bus: dict[int, int] = {}
        for i in range(n_vectors):
            accept_cycle.append(len(applied))
            applied.append(i)
            if idle_gaps and i + 1 < n_vectors and rng.random() < GAP_PROBABILITY:
                for _ in range(int(rng.integers(1, MAX_GAP_CYCLES + 1))):
                    bubble_bus[len(applied)] = int.from_bytes(rng.bytes((bus_width + 7) // 8), "little") & (
                        (1 << bus_width) - 1
                    )
                    applied.append(BUBBLE)
        applied += [n_vectors - 1] * drain
        return cls(applied=tuple(applied), accept_cycle=tuple(accept_cycle), bubble_bus=bubble_bus)


class StreamDriver:
    """Drives ``model_inp`` once per clock, on the falling edge before the rising edge that captures it."""

    def __init__(self, signal: Any, schedule: Schedule, inp_bus: list[int]) -> None:
        self._signal = signal
        self._schedule = schedule
        self._inp_bus = inp_bus

    def drive(self, cycle: int) -> None:
        vector = self._schedule.applied[cycle]
        self._signal.value = self._inp_bus[vector] if vector != BUBBLE else self._schedule.bubble_bus[cycle]


class OutputMonitor:
    """Samples ``model_out`` as an unsigned bus integer after each rising edge (in ``ReadOnly``)."""

    def __init__(self, signal: Any) -> None:
        self._signal = signal
        self.samples: list[int] = []

    def sample(self) -> None:
        try:
            self.samples.append(self._signal.value.to_unsigned())
        except ValueError:  # X or Z on some bit
            self.samples.append(UNRESOLVED)


class StreamChecker:
    """Golden model = the reference's expected output words; in-order check at a measured latency."""

    def __init__(self, job: StreamJob, schedule: Schedule) -> None:
        self._job = job
        self._schedule = schedule
        fmt = job.output_format
        self._expected_bus = [fmt.pack(row) for row in job.out_words]

    def wrong_cycles(self, samples: list[int], latency: int) -> list[tuple[int, int]]:
        """``(cycle, vector)`` of every driven cycle whose output, ``latency`` cycles later, is not the reference's."""
        wrong = []
        for cycle, vector in enumerate(self._schedule.applied):
            if cycle + latency >= len(samples):
                break
            if vector != BUBBLE and samples[cycle + latency] != self._expected_bus[vector]:
                wrong.append((cycle, vector))
        return wrong

    def _informative_vectors(self) -> int:
        """Vectors whose reference output differs from the previous vector's: only these pin the latency."""
        return sum(a != b for a, b in zip(self._expected_bus, self._expected_bus[1:], strict=False))

    def measure_latency(self, samples: list[int]) -> tuple[int | None, str | None]:
        """The unique best-fitting latency, or ``None`` and why none could be pinned."""
        n = self._job.n_vectors
        wrong_vectors = {
            latency: len({v for _, v in self.wrong_cycles(samples, latency)})
            for latency in range(self._job.max_latency + 1)
        }
        best = min(wrong_vectors.values())
        fits = [latency for latency, count in wrong_vectors.items() if count == best]
        if len(fits) > 1:
            return None, (
                f"latency is ambiguous: {fits} cycles all fit equally ({best} of {n} vectors wrong); only "
                f"{self._informative_vectors()} vectors have an output that differs from the previous vector's, "
                "so stream inputs whose outputs change"
            )
        if best > n // 2:
            return None, (
                f"no latency in [0, {self._job.max_latency}] cycles fits: the best, {fits[0]} cycles, leaves "
                f"{best} of {n} vectors wrong; check the bus formats and the reference, or raise max_latency"
            )
        return fits[0], None

    def _describe(self, samples: list[int], cycle: int, vector: int, latency: int) -> str:
        got = samples[cycle + latency]
        got_words = "X" if got == UNRESOLVED else self._job.output_format.unpack(got).tolist()
        return (
            f"vector {vector} captured at cycle {cycle}, output sampled at cycle {cycle + latency} "
            f"(latency {latency}): inputs {self._job.inp_words[vector].tolist()} "
            f"expected {self._job.out_words[vector].tolist()} got {got_words}"
        )

    def _ii_cycles(self, wrong: set[int]) -> int:
        """Fewest cycles between two successive inputs that both came out right (-1 if no such pair)."""
        accept = self._schedule.accept_cycle
        gaps = [accept[i + 1] - accept[i] for i in range(len(accept) - 1) if i not in wrong and i + 1 not in wrong]
        return min(gaps, default=-1)

    def verdict(self, samples: list[int]) -> StreamVerdict:
        job = self._job
        latency, latency_problem = self.measure_latency(samples)
        # with no measurable latency, the vectors are judged at the expected one
        check_latency = latency if latency is not None else job.expected_latency
        wrong_cycles = self.wrong_cycles(samples, check_latency)
        wrong = {v for _, v in wrong_cycles}
        first = self._describe(samples, *wrong_cycles[0], check_latency) if wrong_cycles else None

        problems = []
        if wrong:
            problems.append(f"{len(wrong)} of {job.n_vectors} vectors wrong; first: {first}")
        if latency_problem is not None:
            problems.append(latency_problem)
        elif latency != job.expected_latency:
            problems.append(
                f"measured latency {latency} cycles but {job.expected_latency} expected (the design's pipeline depth)"
            )
        return StreamVerdict(
            vectors=job.n_vectors,
            cycles=len(samples),
            mismatches=len(wrong),
            latency_cycles=latency if latency is not None else -1,
            expected_latency=job.expected_latency,
            ii_cycles=self._ii_cycles(wrong) if latency is not None else -1,
            first_mismatch=first,
            failure="; ".join(problems) if problems else None,
        )


@cocotb.test()
async def stream_vectors(dut: Any) -> None:
    """Stream every job vector, one per clock, and check each output at the measured latency."""
    job = StreamJob.load(Path(os.environ[JOB_ENV]))
    result_path = Path(os.environ[RESULT_ENV])
    if not 0 <= job.expected_latency <= job.max_latency:
        raise ValueError(f"expected latency {job.expected_latency} is outside [0, max_latency={job.max_latency}]")
    if len(dut.model_inp) != job.input_format.bus_width or len(dut.model_out) != job.output_format.bus_width:
        raise ValueError(
            f"bus widths differ: model_inp has {len(dut.model_inp)} bits, the job {job.input_format.describe()}; "
            f"model_out has {len(dut.model_out)} bits, the job {job.output_format.describe()}"
        )

    schedule = Schedule.make(
        n_vectors=job.n_vectors,
        max_latency=job.max_latency,
        idle_gaps=job.idle_gaps,
        bus_width=job.input_format.bus_width,
        seed=job.seed,
    )
    driver = StreamDriver(dut.model_inp, schedule, [job.input_format.pack(row) for row in job.inp_words])
    monitor = OutputMonitor(dut.model_out)
    checker = StreamChecker(job, schedule)

    dut.model_inp.value = 0
    Clock(dut.clk, SIM_CLOCK_PERIOD_NS, unit="ns").start(start_high=False)
    for cycle in range(schedule.n_cycles):
        await FallingEdge(dut.clk)
        driver.drive(cycle)  # never after ReadOnly: a falling edge is a new time step
        await RisingEdge(dut.clk)
        await ReadOnly()
        monitor.sample()

    verdict = checker.verdict(monitor.samples)
    verdict.save(result_path)
    dut._log.info(
        "%d vectors in %d cycles: %d wrong, latency %d cycles (expected %d), II %d",
        verdict.vectors,
        verdict.cycles,
        verdict.mismatches,
        verdict.latency_cycles,
        verdict.expected_latency,
        verdict.ii_cycles,
    )
    assert verdict.failure is None, verdict.failure
