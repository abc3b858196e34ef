"""Vectors per second of each implementation a built card is checked on, and `verify` at a regression depth.

For a card already built (``trigger-nn build CARD``), on random input words over the whole input range:
the Python reference, the C simulation, da4ml's Verilator emulation (its build timed apart), and cocotb
co-simulation of ``<name>_top`` in Verilator and in GHDL; then ``trigger-nn verify --vectors N`` itself,
end to end, on a copy of the project (the build's own files are left as they are). Measured here and
printed as numbers; tests never assert them.

The C simulation and the emulation are also run sharded over ``--workers`` local Dask processes, as
``trigger-nn verify --workers`` runs them (cluster start-up included), and the stage is timed both ways.

    python bench/bench_verify.py [CARD] [--projects DIR] [--vectors 1000000] [--cosim-vectors 20000] [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from trigger_nn import provenance
from trigger_nn._deps import import_tensorflow
from trigger_nn.artifacts import CompileResult, TrainResult, VerifyResult
from trigger_nn.card import load_card, with_options
from trigger_nn.cli import run_stages
from trigger_nn.cluster import Cluster
from trigger_nn.firmware.cosim import VHDL_SIMULATOR, run_cosim
from trigger_nn.firmware.hls import c_simulation
from trigger_nn.firmware.rtl import RTLEmulation
from trigger_nn.verify import Simulators, reference_function, simulate_sharded


def timed(what: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    what()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("card", type=Path, nargs="?", default=Path("models/cdms_lfn.yaml"))
    parser.add_argument("--projects", type=Path, default=Path("hls_projects"), help="where the card was built")
    parser.add_argument("--vectors", type=int, default=1_000_000, help="vectors for the reference, C sim, emulation")
    parser.add_argument("--cosim-vectors", type=int, default=20_000, help="vectors streamed through cocotb")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="local Dask workers for sharding")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import_tensorflow()

    card = load_card(args.card)
    project = card.project_dir(args.projects)
    trained = TrainResult.load(project / "train" / "training.json")
    committed = trained.committed_model is not None  # built with --committed-model: verify it so again
    card = with_options(card, committed_model=committed)
    provenance.require_fresh(card, project, ["train", "compile", "verify"], needed_by="bench_verify")
    compiled = CompileResult.load(project / "compile.json")
    in_fmt = compiled.input_format
    lo, hi = in_fmt.word_range()
    words = np.random.default_rng(0).integers(lo, hi + 1, size=(args.vectors, in_fmt.n_elements), dtype=np.int64)
    values = in_fmt.from_words(words)
    shape = trained.load_model().input_shape[1:]
    x = values.reshape(-1, *shape)

    rows: list[tuple[str, int, float]] = []
    reference = reference_function(compiled, trained)
    rows.append(("Python reference", args.vectors, timed(lambda: reference(x))))
    csim = c_simulation(compiled.hls_dir)
    rows.append((f"C simulation ({compiled.hls_writer})", args.vectors, timed(lambda: csim.predict(x))))
    with tempfile.TemporaryDirectory(prefix="trigger_nn_bench_") as tmp:
        build_s = timed(lambda: RTLEmulation(compiled.rtl_dir, Path(tmp) / "emu", card.firmware, top=card.name))
        emulation = RTLEmulation(compiled.rtl_dir, Path(tmp) / "emu", card.firmware, top=card.name)  # cached now
        rows.append(("Verilog emulation (Verilator, da4ml)", args.vectors, timed(lambda: emulation.predict(x))))
        sims = Simulators.of(card, compiled, csim.library, Path(tmp) / "emu", shape)
        sharded = Cluster(workers=args.workers)
        rows.append((f"C sim + emulation, {args.workers} Dask workers", args.vectors,
                     timed(lambda: simulate_sharded(sims, words, sharded))))  # fmt: skip

        vectors = VerifyResult.load(project / "verify.json").vectors()
        n = min(args.cosim_vectors, len(vectors.inp_words))
        for simulator, name in (
            ("verilator", "cosim, Verilog in Verilator (cocotb)"),
            (VHDL_SIMULATOR, "cosim, VHDL in GHDL (cocotb)"),
        ):
            hdl = compiled.vhdl_dir if simulator == VHDL_SIMULATOR else compiled.rtl_dir

            def stream(hdl: Path = hdl, simulator: str = simulator) -> None:
                m = run_cosim(rtl_dir=hdl, simulator=simulator, top=compiled.top, inp_words=vectors.inp_words[:n],
                              out_words=vectors.out_words[:n], input_format=in_fmt,
                              output_format=compiled.output_format, expected_latency=compiled.pipeline_stages,
                              work_dir=Path(tmp) / f"cosim_{simulator}")  # fmt: skip
                assert m.passed, m.failure

            stream()  # the simulator's build, kept by its hash
            rows.append((name, n, timed(stream)))

        copy = Path(tmp) / "projects" / project.name
        shutil.copytree(project, copy, symlinks=True)
        stage_s = {
            where: timed(
                lambda cluster=cluster: run_stages(
                    args.card,
                    ("verify",),
                    copy.parent,
                    committed_model=committed,
                    verify_vectors=args.vectors,
                    cluster=cluster,
                )  # fmt: skip
            )
            for where, cluster in (("in one process", None), (f"--workers {args.workers}", sharded))
        }

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"{card.name} ({compiled.top}, input {in_fmt.describe()}) on {machine}")
    print(f"{'implementation':<40} {'vectors':>9} {'seconds':>8} {'vectors/s':>11}")
    for name, count, seconds in rows:
        print(f"{name:<40} {count:>9} {seconds:>8.1f} {count / seconds:>11,.0f}")
    print(f"Verilator emulation build: {build_s:.1f} s (once per Verilog; kept by its sources' hash)")
    for where, seconds in stage_s.items():
        print(f"`trigger-nn verify --vectors {args.vectors}` {where}, on a copy of the built project: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
