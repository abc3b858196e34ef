"""FPGA parts: a card names an AMD/Xilinx part the back-ends can target, or it does not load."""

from pathlib import Path

import pytest
import yaml

from trigger_nn.card import load_card
from trigger_nn.cli import main
from trigger_nn.errors import CardError
from trigger_nn.firmware.parts import family_of


@pytest.mark.parametrize(
    ("part", "family"),
    [
        ("xcvu13p-flga2577-2-e", "xcup"),
        ("xcku115-flvb2104-2-e", "xcup"),
        ("xczu9eg-ffvb1156-2-e", "xcup"),
        ("xcu250-figd2104-2L-e", "xcup"),
        ("xc7a100tcsg324-1", "xc7"),
        ("xc7z020clg400-1", "xc7"),
    ],
)
def test_part_to_family(part: str, family: str) -> None:
    assert family_of(part) == family


@pytest.mark.parametrize("part", ["ep4ce22", "10AX115S2F45I1SG", "xcvu99999-bogus", "xcvc1902-vsva2197-2MP-e-S", ""])
def test_other_vendors_and_made_up_parts_are_refused(part: str) -> None:
    with pytest.raises(
        CardError, match=rf"firmware.part {part!r} is not a part of a supported AMD/Xilinx family.*xcvu"
    ):
        family_of(part)


def test_an_intel_part_fails_when_the_card_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before any training: `build` stops at the card, with one message and exit 1, and writes nothing."""
    card = tmp_path / "intel.yaml"
    card.write_text(yaml.safe_dump({"name": "intel", "task": "cdms_lfn", "firmware": {"part": "10AX115S2F45I1SG"}}))
    with pytest.raises(CardError, match=rf"{card}: firmware.part '10AX115S2F45I1SG' is not a part"):
        load_card(card)
    assert main(["build", str(card), "--projects", str(tmp_path / "projects")]) == 1
    err = capsys.readouterr().err
    assert "firmware.part '10AX115S2F45I1SG'" in err and "Supported:" in err
    assert not (tmp_path / "projects" / "intel").exists()
