"""Running Vitis HLS and Vivado for ``trigger-nn synth``, on the command lines hls4ml and da4ml themselves use.

Inputs are the scripts the writers leave: hls4ml's ``hls/build_prj.tcl`` (which sources ``project.tcl``
and ``build_opt.tcl``) and da4ml's ``rtl/build_vivado_prj.tcl``. Neither tool is installed where this project
is developed, so :func:`run_vitis_hls` and :func:`run_vivado` are kept thin; what they read back is
:mod:`.reports`' job, and what can be checked without the tools is :mod:`.tcl`'s.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ...artifacts import HlsSynthesisReport, VivadoReport
from ...errors import ToolError

log = logging.getLogger(__name__)


class VendorTool(StrEnum):
    VITIS_HLS = "vitis_hls"
    VIVADO = "vivado"


@dataclass(frozen=True, kw_only=True)
class HlsBuildOptions:
    """The switches of hls4ml's ``build()``, which ``build_prj.tcl`` reads from ``build_opt.tcl``.

    Vitis 2024.2 has no ``vitis_hls`` and its ``vitis-run`` passes no arguments to a script, so hls4ml 1.2+
    writes these to a file instead of Vivado HLS's ``reset=1 csim=0 ...`` argv. The defaults are what
    ``trigger-nn synth`` needs: a fresh project, C synthesis and C/RTL co-simulation (the C simulation and
    its comparison already ran in ``trigger-nn verify``).
    """

    reset: bool = True
    csim: bool = False
    synth: bool = True
    cosim: bool = True
    validation: bool = False
    export: bool = False
    vsynth: bool = False
    fifo_opt: bool = False

    def tcl(self) -> str:
        """``build_opt.tcl`` as hls4ml 1.3's ``VitisBackend.build`` writes it, byte for byte."""
        body = "".join(f"    {f.name:<10} {int(getattr(self, f.name))}\n" for f in dataclasses.fields(self))
        return "array set opt {\n" + body + "}\n"


SYNTH_AND_COSIM = HlsBuildOptions()


# ---------------------------------------------------------------------------------------------------------------
# Command lines and runs


#: hls4ml 1.3's ``VitisBackend.build`` runs this in the HLS project (Vitis 2022.2 and older lack ``vitis-run``:
#: hls4ml issue #1463; there ``vitis_hls -f build_prj.tcl`` runs the same script).
VITIS_HLS_ARGV = ("vitis-run", "--tcl", "build_prj.tcl", "--mode", "hls")
#: da4ml's flows call Vivado so (``build_vitis_prj.tcl``); run in the RTL project on its own script.
VIVADO_ARGV = ("vivado", "-mode", "batch", "-source", "build_vivado_prj.tcl")


def vitis_hls_command(hls_dir: Path) -> list[str]:
    """The command hls4ml's ``build()`` runs for the Vitis back-end; run it in ``hls_dir``."""
    _require_file(Path(hls_dir) / "build_prj.tcl", "hls4ml writes it with the project (`trigger-nn compile`)")
    return list(VITIS_HLS_ARGV)


def vivado_command(rtl_dir: Path) -> list[str]:
    """The command that runs da4ml's implementation script, as da4ml's own flows call Vivado; run it in ``rtl_dir``."""
    _require_file(Path(rtl_dir) / "build_vivado_prj.tcl", "da4ml writes it with the Verilog (`trigger-nn compile`)")
    return list(VIVADO_ARGV)


def run_vitis_hls(hls_dir: Path, log_path: Path, *, options: HlsBuildOptions = SYNTH_AND_COSIM) -> HlsSynthesisReport:
    """Write ``build_opt.tcl`` (as hls4ml's ``build()`` does), run Vitis HLS, and read its reports."""
    from .reports import read_hls_report  # not at the top: .reports takes the command lines from here

    hls_dir = Path(hls_dir)
    command = vitis_hls_command(hls_dir)
    _require_tool(command, hls_dir, "Vitis HLS")
    (hls_dir / "build_opt.tcl").write_text(options.tcl())
    _run(command, hls_dir, Path(log_path), "Vitis HLS")
    return read_hls_report(hls_dir, require_cosim=options.cosim)


def run_vivado(rtl_dir: Path, log_path: Path) -> VivadoReport:
    """Run da4ml's out-of-context synthesis, place and route in Vivado, and read the post-route reports."""
    from .reports import read_vivado_report  # not at the top: .reports takes the command lines from here

    rtl_dir = Path(rtl_dir)
    command = vivado_command(rtl_dir)
    _require_tool(command, rtl_dir, "Vivado")
    _run(command, rtl_dir, Path(log_path), "Vivado")
    return read_vivado_report(rtl_dir)


def _require_tool(command: list[str], cwd: Path, what: str) -> None:
    if shutil.which(command[0]) is None:
        raise ToolError(
            f"{command[0]} is not on PATH, so {what} cannot run: source the AMD tools' settings64.sh "
            f"(hls4ml 1.3 runs Vitis HLS through vitis-run, which Vitis 2022.2 lacks), or run "
            f"`{' '.join(command)}` in {cwd} on a machine that has them"
        )


def _run(command: list[str], cwd: Path, log_path: Path, what: str) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("%s: running `%s` in %s (log: %s)", what, " ".join(command), cwd, log_path)
    with open(log_path, "w") as out:
        proc = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise ToolError(f"{what} failed (exit {proc.returncode}) in {cwd}; last lines of {log_path}:\n{tail}")


def _require_file(path: Path, why: str) -> None:
    if not path.is_file():
        raise ToolError(f"{path} does not exist: {why}")
