"""Time the stream simulation and the trigger emulation (OF FIR, candidates, vetoes, matching); print a table.

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
    y = st.of_output(stream.adc, of)
    steps.append(("OF FIR", time.perf_counter() - t0))
    t0 = time.perf_counter()
    candidates = st.find_candidates(y, args.threshold, start=st.settle_samples(of))
    steps.append(("candidates", time.perf_counter() - t0))
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
    emulation = sum(sec for name, sec in steps[1:])
    print(f"{'-' * 22} {'-' * 8} {'-' * 11}")
    print(f"{'trigger (all)':<22} {emulation:>8.2f} {n / emulation / 1e6:>11.1f}")
    print(f"(the vetoes run on the {len(candidates)} candidates only, as the FPGA evaluates them once per candidate)")
    print(f"{len(candidates)} candidates: noise {rates.noise}; LFN {rates.lfn}; "
          f"{rates.signals_found} of {rates.signals} pulses found")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
