"""The size gate's numbers: the cost estimated before tracing against da4ml's traced cost, with both times,
(``--yosys``) Yosys' mapped LUTs against da4ml's cost, the calibration of ``LUTS_PER_COST``, and
(``--memory``) the peak memory of the Verilator builds against the size of the Verilog they compile.

Designs: the two committed models and HGQ2 CNNs (untrained, ranges traced on random images) of growing size.
Memory is the peak of the summed resident memory of the build's process tree, sampled every 50 ms.
These are the measurements behind the tables of ``trigger_nn/firmware/resources.py``.

    python bench/bench_size.py [--yosys] [--memory] [--cnn 10,28]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trigger_nn.artifacts import load_keras_model
from trigger_nn.card import FirmwareConfig
from trigger_nn.firmware import resources, rtl, timing


def cnn(side: int, filters: tuple[int, int] = (4, 8), seed: int = 1) -> Any:
    """Two 3 x 3 convolutions (ReLU) on a side x side image and a dense layer of 10, 6-bit weights."""
    import keras
    from hgq.config import QuantizerConfigScope
    from hgq.layers import QConv2D, QDense
    from hgq.utils import trace_minmax

    from trigger_nn.nets.mlp import input_quantizer_config

    keras.utils.set_random_seed(seed)
    with QuantizerConfigScope(place="weight", q_type="kbi", b0=6):
        inp = keras.Input((side, side, 1))
        h = QConv2D(filters[0], 3, activation="relu", iq_conf=input_quantizer_config((0, 8, 0)))(inp)
        h = QConv2D(filters[1], 3, activation="relu")(h)
        out = QDense(10)(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    x = np.random.default_rng(seed).integers(0, 256, size=(512, side, side, 1)).astype(np.float32)
    trace_minmax(model, x, batch_size=256)
    return model


def peak_memory(run: Callable[[], Any]) -> tuple[float, int]:
    """Seconds taken and the peak summed RSS (bytes) of this process's children while ``run`` runs."""
    import psutil

    me, peak, done = psutil.Process(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            peak[0] = max(peak[0], total)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    try:
        run()
    finally:
        done.set()
        sampler.join()
    return time.perf_counter() - t0, peak[0]


def measure_luts(name: str, pipeline: Any, fw: FirmwareConfig, tmp: Path) -> None:
    from trigger_nn.firmware.synth import yosys_synth

    rtl_dir = tmp / name / "rtl_yosys"
    rtl.write_hdl(pipeline, rtl_dir, fw, top=name)
    mapped = yosys_synth(rtl_dir, f"{name}_wrapper", fw.part, tmp / name / "yosys")
    luts = mapped.counts.luts
    print(
        f"  Yosys: {luts:,} LUTs, {mapped.counts.ffs:,} FFs of {pipeline.reg_bits:,} register bits; "
        f"{luts / pipeline.cost:.3f} LUTs per unit of cost ({mapped.seconds:.0f} s)"
    )


def measure_memory(name: str, pipeline: Any, fw: FirmwareConfig, tmp: Path) -> None:
    from cocotb_tools.runner import get_runner

    rtl_dir = tmp / name / "rtl"
    rtl.write_hdl(pipeline, rtl_dir, fw, top=name)
    sources = sorted((rtl_dir / "src").rglob("*.v"))
    mb = sum(p.stat().st_size for p in sources) / 2**20
    seconds, peak = peak_memory(lambda: rtl.RTLEmulation(rtl_dir, tmp / name / "emulation", fw, top=name))
    print(f"  emulation build: {mb:.2f} MB of Verilog, peak {peak / 2**20:.0f} MiB, {seconds:.0f} s")
    from trigger_nn.firmware import cosim

    build = lambda: cosim._build(  # noqa: E731  (the build cosim runs, flags and all)
        get_runner(cosim.SIMULATOR), sources=sources, top=f"{name}_wrapper", build_dir=tmp / name / "cosim", waves=False
    )
    seconds, peak = peak_memory(build)
    print(f"  cocotb build:    {mb:.2f} MB of Verilog, peak {peak / 2**20:.0f} MiB, {seconds:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--yosys", action="store_true", help="also map each design with Yosys (minutes)")
    parser.add_argument("--memory", action="store_true", help="also build each design with Verilator")
    parser.add_argument("--cnn", default="10,28", help="CNN image sides, comma-separated (default 10,28)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"on {platform.machine()}, {os.cpu_count()} cores")
    designs: list[tuple[str, Callable[[], Any]]] = [
        (f"{m}", lambda m=m: load_keras_model(Path("models") / m / "model.keras")) for m in ("cdms_lfn", "ecl_photon")
    ]
    designs += [(f"cnn{s}", lambda s=s: cnn(int(s))) for s in args.cnn.split(",") if s]
    fw = FirmwareConfig()
    with tempfile.TemporaryDirectory(prefix="trigger_nn_size_") as tmp:
        for name, make in designs:
            model = make()
            t0 = time.perf_counter()
            early = resources.pre_trace_cost(model)
            t1 = time.perf_counter()
            pipeline = timing.cut(rtl.trace(model), fw)
            t2 = time.perf_counter()
            print(
                f"{name}: traced cost {pipeline.cost:,.0f} ({t2 - t1:.1f} s to trace and cut), estimated "
                f"{early:,.0f} ({early / pipeline.cost - 1:+.1%}, {t1 - t0:.1f} s), "
                f"~{resources.lut_estimate(pipeline.cost):,} LUTs"
            )
            if args.yosys:
                measure_luts(name, pipeline, fw, Path(tmp))
            if args.memory:
                measure_memory(name, pipeline, fw, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
