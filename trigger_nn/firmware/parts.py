"""FPGA parts the flow can target: AMD/Xilinx families by their Vivado part names, and their devices' sizes.

A part is checked when the card loads, so a card for another vendor, a mistyped part or a device
this table does not know fails before any training. The family decides Yosys' ``synth_xilinx -family``
and the delay model (``firmware.timing``); the device gives the capacity a design must fit. Part names
follow AMD's ordering codes (device, package, speed grade, temperature grade; e.g.
``xcvu13p-flga2577-2-e``, ``xc7a100tcsg324-1``), as in the product selection guides of the UltraScale+
(XMP103) and 7 series (XMP101) families.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import CardError, suggest

#: Yosys ``synth_xilinx`` family by the part's prefix
FAMILIES = (("xcvu", "xcup"), ("xcku", "xcup"), ("xczu", "xcup"), ("xcau", "xcup"), ("xcu", "xcup"), ("xc7", "xc7"))
SUPPORTED = (
    "Virtex, Kintex, Zynq and Artix UltraScale(+) (xcvu, xcku, xczu, xcau), Alveo (xcu), "
    "7 series (xc7a, xc7k, xc7s, xc7v, xc7z)"
)
#: device, then package and pin count, speed grade, optional temperature / engineering-sample suffixes
_PART = re.compile(
    r"(?:(?:xcvu|xcku|xczu|xcau|xcu)\d+[a-z]*-[a-z]+\d+|xc7(?:v[xh]|[aksvz])\d+[a-z]*\d+)-\d[a-z]*(?:-[a-z0-9]+)*"
)
#: the device of a part name: UltraScale(+) and Alveo before the first dash; 7 series fused with the package
#: (``xc7a100t`` + ``csg324``), the device ending in its optional ``t`` / ``s`` before the package's letters
_DEVICE = re.compile(r"(?:xcvu|xcku|xczu|xcau|xcu)\d+[a-z]*(?=-)|xc7(?:v[xh]|[aksvz])\d+[ts]?(?=[a-z]{2,}\d)")


@dataclass(frozen=True)
class Device:
    """An FPGA's capacity: CLB LUTs, CLB flip-flops, DSP slices and 36 Kb block RAMs."""

    name: str
    family: str
    luts: int
    ffs: int
    dsps: int
    brams: int


def _table(family: str, rows: str) -> list[Device]:
    """A data sheet's devices: a row ``name luts ffs dsps brams`` each, numbers as the data sheet prints them."""
    devices = []
    for row in rows.strip().splitlines():
        name, *numbers = row.split()
        devices.append(Device(name, family, *(int(n.replace(",", "")) for n in numbers)))
    return devices


#: (Yosys family, the document the numbers are copied from, its devices). 7 series data sheets count slices:
#: LUTs are 4 and flip-flops 8 per slice (DS180). Block RAMs are 36 Kb blocks (each two 18 Kb halves).
#: Cross-checked against the "Available" column of Vivado utilisation reports and board documents in public
#: repositories (FINN's platforms.py, CHaiDNN, Spatial's targets, CASPER's SNAP2): no disagreement; no second
#: source was found for xcvu440, the whole xcu250, the DSPs of xcvu13p and xc7vx690t, or the LUTs and
#: flip-flops of xcku115 and xcvu19p, which rest on the data sheets alone.
_TABLES = (
    (
        "xcup",
        "DS890 UltraScale Architecture and Product Overview: the Virtex, Kintex, Zynq and Artix UltraScale+ "
        "feature summaries (in thousands in the UltraScale+ product selection guide, XMP103)",
        """
        xcvu9p   1,182,240  2,364,480   6,840  2,160
        xcvu13p  1,728,000  3,456,000  12,288  2,688
        xcvu19p  4,085,760  8,171,520   3,840  2,160
        xcku5p     216,960    433,920   1,824    480
        xcku15p    522,720  1,045,440   1,968    984
        xczu9eg    274,080    548,160   2,520    912
        xcau15p     77,760    155,520     576    144
        """,
    ),
    (
        "xcup",
        "DS890 UltraScale Architecture and Product Overview: the Kintex and Virtex UltraScale feature summaries "
        "(UltraScale product selection guide, XMP102)",
        """
        xcku040    242,400    484,800   1,920    600
        xcku115    663,360  1,326,720   5,520  2,160
        xcvu440  2,532,960  5,065,920   2,880  2,520
        """,
    ),
    (
        "xcup",
        "Alveo data sheets DS962 (U200 and U250 Data Center Accelerator Cards: xcu250) and DS963 (U280: xcu280)",
        """
        xcu250   1,728,000  3,456,000  12,288  2,688
        xcu280   1,303,680  2,607,360   9,024  2,016
        """,
    ),
    (
        "xc7",
        "DS180 7 Series FPGAs Data Sheet: Overview (Artix-7, Kintex-7, Virtex-7 tables) and DS190 Zynq-7000 SoC "
        "Data Sheet: Overview (xc7z020)",
        """
        xc7a35t     20,800     41,600      90     50
        xc7a100t    63,400    126,800     240    135
        xc7a200t   134,600    269,200     740    365
        xc7k325t   203,800    407,600     840    445
        xc7k410t   254,200    508,400   1,540    795
        xc7vx690t  433,200    866,400   3,600  1,470
        xc7z020     53,200    106,400     220    140
        """,
    ),
)
#: the devices a card may target, by name
DEVICES: dict[str, Device] = {d.name: d for family, _, rows in _TABLES for d in _table(family, rows)}
#: where each device's numbers come from
SOURCES: dict[str, str] = {d.name: source for family, source, rows in _TABLES for d in _table(family, rows)}


def family_of(part: str) -> str:
    """The Yosys family of a supported part; any other name is a CardError naming it and the supported families."""
    name = part.lower()
    if _PART.fullmatch(name):
        for prefix, family in FAMILIES:
            if name.startswith(prefix):
                return family
    raise CardError(
        f"firmware.part {part!r} is not a part of a supported AMD/Xilinx family; give a Vivado part name such as "
        f"xcvu13p-flga2577-2-e. Supported: {SUPPORTED}"
    )


def device_of(part: str) -> Device:
    """The device of a part of a supported family, with its capacity; an unknown device is a CardError naming it."""
    family = family_of(part)
    found = _DEVICE.match(part.lower())
    device = found.group(0) if found else part.lower()
    if device in DEVICES:
        return DEVICES[device]
    known = [d.name for d in DEVICES.values() if d.family == family]
    raise CardError(
        f"firmware.part {part!r}: device {device!r} is not one this flow knows the size of (a typo, or a device "
        f"not in trigger_nn/firmware/parts.py's table); {suggest(device, known, what='devices')}"
    )


def check_part(part: str, where: str) -> Device:
    """Refuse a card whose part no back-end here can target or whose device is unknown, naming the card."""
    try:
        return device_of(part)
    except CardError as err:
        raise CardError(f"{where}: {err}") from None
