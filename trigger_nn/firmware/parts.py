"""FPGA parts the flow can target: AMD/Xilinx families by their Vivado part names.

A part is checked when the card loads, so a card for another vendor or a mistyped part fails
before any training. The family decides Yosys' ``synth_xilinx -family`` and the delay model
(``firmware.timing``). Part names follow AMD's ordering codes (device, package, speed grade,
temperature grade; e.g. ``xcvu13p-flga2577-2-e``, ``xc7a100tcsg324-1``), as in the product
selection guides of the UltraScale+ (XMP103) and 7 series (XMP101) families.
"""

from __future__ import annotations

import re

from ..errors import CardError

#: Yosys ``synth_xilinx`` family by the part's prefix
FAMILIES = (("xcvu", "xcup"), ("xcku", "xcup"), ("xczu", "xcup"), ("xcau", "xcup"), ("xcu", "xcup"), ("xc7", "xc7"))
SUPPORTED = (
    "Virtex, Kintex, Zynq and Artix UltraScale(+) (xcvu, xcku, xczu, xcau), Alveo (xcu), "
    "7 series (xc7a, xc7k, xc7s, xc7v, xc7z)"
)
#: device, then package and pin count, speed grade, optional temperature / engineering-sample suffixes
_PART = re.compile(r"(?:(?:xcvu|xcku|xczu|xcau|xcu)\d+[a-z]*-[a-z]+\d+|xc7[aksvz]\d+[a-z]*\d+)-\d[a-z]*(?:-[a-z0-9]+)*")


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


def check_part(part: str, where: str) -> None:
    """Refuse a card whose part no back-end here can target, naming the card."""
    try:
        family_of(part)
    except CardError as err:
        raise CardError(f"{where}: {err}") from None
