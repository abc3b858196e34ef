"""cocotb testbench of ``stream_trigger``: stream samples, check every output word and bit, measure latency.

Input: the job ``.npz`` named by ``$TRIGGER_NN_TRIGGER_JOB`` (written by ``trigger_firmware.simulate``): runs,
each with its samples, the reference outputs (``trigger_firmware.OUTPUT_FIELDS``) and its idle-gap
schedule; the expected latency. Output: the JSON result named by ``$TRIGGER_NN_TRIGGER_RESULT``.

Each run starts with a synchronous reset. The driver sets ``in_valid``/``in_x`` on the falling edge before
the rising edge that captures them (never after ``ReadOnly``); the monitor samples the outputs after every
rising edge in ``ReadOnly``. The ``i``-th ``out_valid`` belongs to the ``i``-th sample; its latency is the
number of rising edges between the two, and must be the same for every sample.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from trigger_nn.tasks.cdms.trigger_firmware import OUTPUT_FIELDS

JOB_ENV, RESULT_ENV = "TRIGGER_NN_TRIGGER_JOB", "TRIGGER_NN_TRIGGER_RESULT"
CLOCK_NS = 5
RESET_CYCLES = 4


async def stream(dut: Any, x: np.ndarray, gaps: np.ndarray, drain: int) -> tuple[list[int], list[int], dict]:
    """Drive ``x`` with ``gaps[i]`` idle cycles after sample ``i``; return input and output cycles and outputs."""
    signals = {name: getattr(dut, "out_" + name if name in ("y", "score") else name) for name in OUTPUT_FIELDS}
    signed = {"y", "score", "peak_y", "peak_score"}
    bits = {"cand", "trigger"}  # one-bit ports read as Logic, not LogicArray
    outputs: dict[str, list[int]] = {name: [] for name in OUTPUT_FIELDS}
    in_cycles: list[int] = []
    out_cycles: list[int] = []
    schedule: list[int] = []  # sample index per cycle, -1 idle
    for i, g in enumerate(gaps):
        schedule.append(i)
        schedule.extend([-1] * int(g))
    schedule.extend([-1] * drain)
    xs = [int(v) for v in x]
    for cycle, i in enumerate(schedule):
        await FallingEdge(dut.clk)
        if i >= 0:
            dut.in_valid.value = 1
            dut.in_x.value = xs[i]
            in_cycles.append(cycle)
        else:
            dut.in_valid.value = 0
            dut.in_x.value = (cycle * 37) & 0x7F  # junk on the bus while idle
        await RisingEdge(dut.clk)
        await ReadOnly()
        if dut.out_valid.value:
            out_cycles.append(cycle)
            for name, sig in signals.items():
                val = sig.value
                if name in bits:
                    outputs[name].append(int(val))
                else:
                    outputs[name].append(val.to_signed() if name in signed else val.to_unsigned())
    return in_cycles, out_cycles, outputs


async def reset(dut: Any) -> None:
    await FallingEdge(dut.clk)
    dut.rst.value = 1
    dut.in_valid.value = 0
    dut.in_x.value = 0
    for _ in range(RESET_CYCLES):
        await FallingEdge(dut.clk)
    dut.rst.value = 0


def compare(expected: dict[str, np.ndarray], got: dict[str, list[int]]) -> tuple[dict[str, int], str | None]:
    """Mismatching samples per field, and the first wrong sample described."""
    n = len(next(iter(expected.values())))
    counts, first = {}, None
    for name in OUTPUT_FIELDS:
        g = np.asarray(got[name][:n], dtype=np.int64)
        wrong = np.flatnonzero(g != expected[name][: len(g)])
        counts[name] = int(len(wrong))
        if len(wrong) and (first is None or wrong[0] < first[0]):
            first = (int(wrong[0]), name)
    if first is None:
        return counts, None
    k = first[0]
    exp = {f: int(expected[f][k]) for f in OUTPUT_FIELDS}
    gt = {f: int(got[f][k]) for f in OUTPUT_FIELDS}
    return counts, f"sample {k}: first wrong field {first[1]}; expected {exp}, got {gt}"


@cocotb.test()
async def stream_runs(dut: Any) -> None:
    """Every run of the job: reset, stream, check all outputs, measure the latency."""
    job = np.load(os.environ[JOB_ENV])
    expected_latency = int(job["latency"])
    Clock(dut.clk, CLOCK_NS, unit="ns").start(start_high=False)
    results = []
    for name in [str(r) for r in job["runs"]]:
        x, gaps = job[f"{name}/x"], job[f"{name}/gaps"]
        expected = {f: job[f"{name}/{f}"] for f in OUTPUT_FIELDS}
        await reset(dut)
        t0 = time.perf_counter()
        in_cycles, out_cycles, got = await stream(dut, x, gaps, drain=expected_latency + 8)
        wall = time.perf_counter() - t0
        m = min(len(in_cycles), len(out_cycles))
        lat = np.asarray(out_cycles[:m]) - np.asarray(in_cycles[:m])
        counts, first = compare(expected, got)
        result = {
            "run": name,
            "samples": len(x),
            "outputs": len(out_cycles),
            "cycles": len(in_cycles) + int(gaps.sum()) + expected_latency + 8,
            "latency_min": int(lat.min()) if m else -1,
            "latency_max": int(lat.max()) if m else -1,
            "mismatches": counts,
            "first_mismatch": first,
            "wall_s": wall,
            "samples_per_s": len(x) / wall,
        }
        dut._log.info("%s", json.dumps(result))
        results.append(result)
    summary = {"expected_latency": expected_latency, "runs": results}
    Path(os.environ[RESULT_ENV]).write_text(json.dumps(summary, indent=1))
    for r in results:
        assert r["outputs"] == r["samples"], f"{r['run']}: {r['outputs']} outputs for {r['samples']} samples"
        assert r["latency_min"] == r["latency_max"] == expected_latency, f"{r['run']}: latency {r}"
        assert not any(r["mismatches"].values()), f"{r['run']}: {r['first_mismatch']}"
