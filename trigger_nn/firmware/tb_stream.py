"""cocotb testbench: stream vectors through a da4ml pipeline, check every output, measure latency and II.

Input: the job ``.npz`` named by ``$TRIGGER_NN_COSIM_JOB`` (written by
:func:`trigger_nn.firmware.cosim.run_cosim`): raw input words, the Python
reference's raw output words, both bus formats, the expected latency and the
largest latency to search.
Output: the JSON result named by ``$TRIGGER_NN_COSIM_RESULT``.

The design is ``<name>_top`` (:mod:`trigger_nn.firmware.top`: ports ``clk``, ``rst``,
``inp_valid``, ``model_inp``, ``out_valid``, ``model_out``; a new input can be taken at every
rising edge). Each cycle the driver puts ``rst``, ``inp_valid`` and ``model_inp`` on the bus at
the falling edge before rising edge ``k``; the monitor samples ``out_valid`` and ``model_out`` after
rising edge ``k`` (``RisingEdge`` then ``ReadOnly``). The run starts with ``rst`` high while
``inp_valid`` is high, and with ``idle_gaps`` it also resets in mid-stream, just after vectors that
are then still in the pipeline: none of those may come out valid. The latency ``L`` is measured, not assumed: it is the
unique ``L`` in ``[0, max_latency]`` for which the output sampled at cycle
``k + L`` is the reference output of the vector captured at edge ``k``; it is
pinned by vectors whose output differs from their neighbours', and it tolerates a
few wrong vectors (at most half) so that a mismatch is still reported at the right
cycle. With that ``L`` every driven cycle is checked; ``mismatches`` counts the
vectors wrong at any of their cycles. ``out_valid`` is checked at every cycle
against the valid bits' own model (:func:`expected_valid`) at that latency. The II is the fewest cycles between two
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
#: ``applied`` entry of a cycle whose vector is valid but lost to a reset (random bits on the bus)
DROPPED = -2
#: rising edges with ``rst`` high at the start, and in the mid-stream reset
RESET_CYCLES = 2
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
    """What is on the bus at each capturing rising edge (cycle): ``rst``, ``inp_valid`` and which vector.

    The first cycles flush the pipeline with ``inp_valid`` low, the first ``RESET_CYCLES`` of them with
    ``rst`` and ``inp_valid`` high; vector ``i`` then has its own slot at ``accept_cycle[i]`` (one per
    clock, or with idle gaps between some, and then one mid-stream reset just after ``DROPPED`` vectors
    that are still in the pipeline when it comes); the last vector is held, not valid, until every latency
    up to ``max_latency`` has drained.
    """

    applied: tuple[int, ...]
    valid: tuple[bool, ...]
    reset: tuple[bool, ...]
    accept_cycle: tuple[int, ...]
    random_bus: dict[int, int]

    @property
    def n_cycles(self) -> int:
        return len(self.applied)

    @classmethod
    def make(
        cls, *, n_vectors: int, max_latency: int, latency: int, idle_gaps: bool, bus_width: int, seed: int
    ) -> Schedule:
        rng = np.random.default_rng(seed)
        flush = drain = max_latency + 2
        applied, valid, reset = [0] * flush, [False] * flush, [False] * flush
        for c in range(RESET_CYCLES):
            valid[c] = reset[c] = True
        accept_cycle = []
        random_bus: dict[int, int] = {}

        def noise(kind: int, *, is_valid: bool, is_reset: bool = False) -> None:
            random_bus[len(applied)] = int.from_bytes(rng.bytes((bus_width + 7) // 8), "little") & (
                (1 << bus_width) - 1
            )
            applied.append(kind)
            valid.append(is_valid)
            reset.append(is_reset)

        reset_after = n_vectors // 2 if idle_gaps and n_vectors > 1 else -1
        for i in range(n_vectors):
            accept_cycle.append(len(applied))
            applied.append(i)
            valid.append(True)
            reset.append(False)
            if i == reset_after:  # idle until vector i is out, then vectors the reset must drop, then the reset
                doomed = min(2, latency)
                for _ in range(latency - doomed):
                    noise(BUBBLE, is_valid=False)
                for _ in range(doomed):
                    noise(DROPPED, is_valid=True)
                for _ in range(RESET_CYCLES):
                    noise(DROPPED, is_valid=True, is_reset=True)
            elif idle_gaps and i + 1 < n_vectors and rng.random() < GAP_PROBABILITY:
                for _ in range(int(rng.integers(1, MAX_GAP_CYCLES + 1))):
                    noise(BUBBLE, is_valid=False)
        applied += [n_vectors - 1] * drain
        valid += [False] * drain
        reset += [False] * drain
        return cls(
            applied=tuple(applied),
            valid=tuple(valid),
            reset=tuple(reset),
            accept_cycle=tuple(accept_cycle),
            random_bus=random_bus,
        )


def expected_valid(valid: tuple[bool, ...], reset: tuple[bool, ...], latency: int) -> list[bool]:
    """``out_valid`` after each rising edge, as the top level defines it: the valid bit taken ``latency`` edges
    earlier (with ``rst`` low), unless ``rst`` was high at an edge since."""
    out = []
    for cycle in range(len(valid)):
        taken = cycle - latency
        out.append(taken >= 0 and valid[taken] and not any(reset[taken : cycle + 1]))
    return out


class StreamDriver:
    """Drives ``rst``, ``inp_valid`` and ``model_inp`` once per clock, on the falling edge before the rising
    edge that captures them."""

    def __init__(self, dut: Any, schedule: Schedule, inp_bus: list[int]) -> None:
        self._dut = dut
        self._schedule = schedule
        self._inp_bus = inp_bus

    def drive(self, cycle: int) -> None:
        s = self._schedule
        vector = s.applied[cycle]
        self._dut.rst.value = int(s.reset[cycle])
        self._dut.inp_valid.value = int(s.valid[cycle])
        self._dut.model_inp.value = self._inp_bus[vector] if vector >= 0 else s.random_bus[cycle]


class OutputMonitor:
    """Samples ``model_out`` as an unsigned bus integer, and ``out_valid``, after each rising edge (in ``ReadOnly``)."""

    def __init__(self, dut: Any) -> None:
        self._dut = dut
        self.samples: list[int] = []
        self.valid: list[int] = []

    @staticmethod
    def _read(signal: Any) -> int:
        value = signal.value
        try:  # a bus is a LogicArray, a single bit a Logic
            return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)
        except ValueError:  # X or Z on some bit
            return UNRESOLVED

    def sample(self) -> None:
        self.samples.append(self._read(self._dut.model_out))
        self.valid.append(self._read(self._dut.out_valid))


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
            if vector >= 0 and self._schedule.valid[cycle] and samples[cycle + latency] != self._expected_bus[vector]:
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

    def valid_problem(self, valid: list[int], latency: int) -> str | None:
        """Where ``out_valid`` differs from the top level's definition, at the given latency."""
        expected = expected_valid(self._schedule.valid, self._schedule.reset, latency)
        wrong = [c for c, (got, want) in enumerate(zip(valid, expected, strict=True)) if got != int(want)]
        if not wrong:
            return None
        c = wrong[0]
        after_reset = any(self._schedule.reset[max(0, c - latency) : c + 1])
        return (
            f"out_valid wrong at {len(wrong)} of {len(valid)} cycles; first at cycle {c}: "
            f"{'X' if valid[c] == UNRESOLVED else valid[c]}, expected {int(expected[c])}"
            + (" (a reset lies within the latency before it)" if after_reset else "")
        )

    def verdict(self, samples: list[int], valid: list[int]) -> StreamVerdict:
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
        valid_problem = self.valid_problem(valid, check_latency)
        if valid_problem is not None:
            problems.append(valid_problem)
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
    """Stream every job vector, one per clock, and check each output and ``out_valid`` at the measured latency."""
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
        latency=job.expected_latency,
        idle_gaps=job.idle_gaps,
        bus_width=job.input_format.bus_width,
        seed=job.seed,
    )
    driver = StreamDriver(dut, schedule, [job.input_format.pack(row) for row in job.inp_words])
    monitor = OutputMonitor(dut)
    checker = StreamChecker(job, schedule)

    dut.model_inp.value = 0
    dut.inp_valid.value = 0
    dut.rst.value = 1
    Clock(dut.clk, SIM_CLOCK_PERIOD_NS, unit="ns").start(start_high=False)
    for cycle in range(schedule.n_cycles):
        await FallingEdge(dut.clk)
        driver.drive(cycle)  # never after ReadOnly: a falling edge is a new time step
        await RisingEdge(dut.clk)
        await ReadOnly()
        monitor.sample()

    verdict = checker.verdict(monitor.samples, monitor.valid)
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
