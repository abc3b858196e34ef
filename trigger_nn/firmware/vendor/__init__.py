"""Vendor tools for ``trigger-nn synth``: Vitis HLS on ``<project>/hls/``, Vivado on ``<project>/rtl/``.

Neither tool is installed where this project is developed, so the work is split by what needs them:
:mod:`.run` runs them on the scripts hls4ml and da4ml write (kept thin), :mod:`.reports` reads their reports
back through hls4ml's reader and da4ml's parsers, and :mod:`.tcl` dry-runs the scripts in a real Tcl
interpreter, which checks them anywhere. The names the rest of ``trigger_nn`` uses are re-exported here.
"""

from .reports import read_hls_report, read_vivado_report, vivado_report_paths
from .run import (
    SYNTH_AND_COSIM,
    VITIS_HLS_ARGV,
    VIVADO_ARGV,
    HlsBuildOptions,
    VendorTool,
    run_vitis_hls,
    run_vivado,
    vitis_hls_command,
    vivado_command,
)
from .tcl import check_da4ml_hls_project, check_hls_project, check_script, check_vivado_project

__all__ = [
    "SYNTH_AND_COSIM",
    "VITIS_HLS_ARGV",
    "VIVADO_ARGV",
    "HlsBuildOptions",
    "VendorTool",
    "check_da4ml_hls_project",
    "check_hls_project",
    "check_script",
    "check_vivado_project",
    "read_hls_report",
    "read_vivado_report",
    "run_vitis_hls",
    "run_vivado",
    "vitis_hls_command",
    "vivado_command",
    "vivado_report_paths",
]
