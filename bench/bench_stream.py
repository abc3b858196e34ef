"""Time the stream simulation and the trigger emulation (FIR, candidates, network inputs, vetoes, matching).

Measured here and reported as numbers; tests never assert them.

    python bench/bench_stream.py [CARD] [--seconds S] [--signal-rate-hz R] [--lfn-rate-hz R] [--threshold T]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from trigger_nn.card import load_card
from trigger_nn.tasks.cdms import stream as st
from trigger_nn.tasks.cdms import thresholds as th
from trigger_nn.tasks.cdms.chain import Chain
from trigger_nn.tasks.cdms.simulation import OptimalFilter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("card", type=Path, nargs="?", default=Path("models/cdms_lfn.yaml"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--signal-rate-hz", type=float, default=1.0)
    parser.add_argument("--lfn-rate-hz", type=float, default=1.0)
    parser.add_argument("--threshold", type=float, default=4.0, help="OF threshold, sigma_E")
    args = parser.parse_args()

    data = load_card(args.card).data
    config = st.StreamConfig(data=data, seconds=args.seconds, signal_rate_hz=args.signal_rate_hz,
                             lfn_rate_hz=args.lfn_rate_hz)  # fmt: skip
    of = OptimalFilter.build(data)
    steps: list[tuple[str, float]] = []

    t0 = time.perf_counter()
    stream = st.simulate_stream(config)
    steps.append(("simulate stream", time.perf_counter() - t0))
    t0 = time.perf_counter()
    st.of_output(stream.adc, of)
    steps.append(("OF FIR, float64", time.perf_counter() - t0))
    chain = Chain.build(data, of)  # the FPGA's chain (not timed: the OF and its quantised coefficients)
    t0 = time.perf_counter()
    y = chain.fir.output(stream.adc)
    steps.append(("OF FIR, FPGA words", time.perf_counter() - t0))
    t0 = time.perf_counter()
    candidates = chain.candidates(y, args.threshold)
    steps.append(("candidates", time.perf_counter() - t0))
    t0 = time.perf_counter()
    chain.network_inputs(stream.adc, y, candidates.peak_sample)
    steps.append(("network inputs", time.perf_counter() - t0))
    vetoes = th.classical_vetoes(data, of)  # built once per card (not timed): QETpy's short OF, the noise covariance
    for veto in vetoes:
        t0 = time.perf_counter()
        veto.statistic(stream.adc, candidates.peak_sample)
        steps.append((veto.name, time.perf_counter() - t0))
    t0 = time.perf_counter()
    rates = st.accidental_rates(stream, candidates, of)
    steps.append(("match + rates", time.perf_counter() - t0))

    n = len(stream.adc)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(
        f"{args.seconds:g} s stream ({n:,} samples) of {args.card}, OF threshold {args.threshold:g} sigma_E, {machine}"
    )
    print(f"{'step':<22} {'seconds':>8} {'Msamples/s':>11}")
    print(f"{'-' * 22} {'-' * 8} {'-' * 11}")
    for name, sec in steps:
        print(f"{name:<22} {sec:>8.2f} {n / sec / 1e6:>11.1f}")
    emulation = sum(sec for name, sec in steps[2:])  # the FPGA's chain: not the simulation, not the float OF
    print(f"{'-' * 22} {'-' * 8} {'-' * 11}")
    print(f"{'trigger (all)':<22} {emulation:>8.2f} {n / emulation / 1e6:>11.1f}")
    print(f"(vetoes and network inputs for the {len(candidates)} candidates only: the FPGA decides once per "
          "candidate; the Verilog's speed in Verilator: firmware_tests/test_trigger_stream.py)")  # fmt: skip
    print(f"{len(candidates)} candidates: noise {rates.noise}; LFN {rates.lfn}; "
          f"{rates.signals_found} of {rates.signals} pulses found")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
