"""Time each stage of `trigger-nn build` on a card (default: models/cdms_lfn.yaml) and print a table.

Runs in a fresh temporary projects folder, so every stage (the Verilator builds included)
starts cold; ``--projects DIR`` reuses a folder instead (cached cosim builds then show).
Timings are measured here and reported as numbers; tests never assert them.

    python bench/bench_build.py [CARD] [--projects DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

from trigger_nn.artifacts import Timings
from trigger_nn.cli import STAGES, run_stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("card", type=Path, nargs="?", default=Path("models/cdms_lfn.yaml"))
    parser.add_argument("--projects", type=Path, default=None, help="projects folder (default: a new temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("Verilator").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="trigger_nn_bench_") as tmp:
        projects = args.projects or Path(tmp)
        t0 = time.perf_counter()
        project = run_stages(args.card, STAGES, projects)
        total = time.perf_counter() - t0
        stages = Timings.load(project / "timings.json").stages

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"trigger-nn build {args.card} on {machine}")
    print(f"{'stage':<10} {'seconds':>9}")
    print(f"{'-' * 10} {'-' * 9}")
    for stage in STAGES:
        print(f"{stage:<10} {stages.get(stage, float('nan')):>9.1f}")
    print(f"{'-' * 10} {'-' * 9}")
    print(f"{'total':<10} {total:>9.1f}  (includes imports and card loading)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
