"""Reading Yosys' stat report, and the FPGA family a part maps to."""

from __future__ import annotations

import pytest

from trigger_nn.errors import ToolError
from trigger_nn.firmware.synth import module_counts, parse_stat

STAT = """
=== tiny_stage0 ===
       12   LUT2
        3   FDRE

=== design hierarchy ===
        +----------Count including submodules.
        |
     4200 wires
     1302 cells
        1   BUFG
      741   CARRY8
       20   DSP48E2
      400   FDRE
       51   FDSE
      105   INV
      900   LUT2
      300   LUT6
        2   RAMB36E2
        1 submodules
        1   tiny
"""


def test_stat_counts_come_from_the_whole_design_table() -> None:
    c = parse_stat(STAT)
    assert (c.luts, c.ffs, c.carries, c.dsps, c.brams) == (1200, 451, 741, 20, 2)
    assert c.cells["INV"] == 105 and "tiny" not in c.cells  # module names are not cells


def test_one_modules_own_cells_are_its_section_of_the_report() -> None:
    own = module_counts(STAT, "tiny_stage0")  # the whole trigger's top module: its own logic, not its submodules'
    assert (own.luts, own.ffs) == (12, 3)
    with pytest.raises(ToolError, match="no module other"):
        module_counts(STAT, "other")


def test_an_empty_report_is_an_error() -> None:
    with pytest.raises(ToolError, match="no cells"):
        parse_stat("=== design hierarchy ===\n")
