"""FPGA parts: a card names an AMD/Xilinx part the back-ends can target, or it does not load."""

from pathlib import Path

import pytest
import yaml

from trigger_nn.card import card_from_dict, load_card
from trigger_nn.cli import main
from trigger_nn.errors import CardError
from trigger_nn.firmware.parts import DEVICES, SOURCES, Device, check_part, device_of, family_of


@pytest.mark.parametrize(
    ("part", "family"),
    [
        ("xcvu13p-flga2577-2-e", "xcup"),
        ("xcku115-flvb2104-2-e", "xcup"),
        ("xczu9eg-ffvb1156-2-e", "xcup"),
        ("xcu250-figd2104-2L-e", "xcup"),
        ("xc7a100tcsg324-1", "xc7"),
        ("xc7z020clg400-1", "xc7"),
        ("xc7vx690tffg1761-2", "xc7"),
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


#: a Vivado part name of every device in the table
PARTS = {
    "xcvu9p": "xcvu9p-flga2104-2L-e",
    "xcvu13p": "xcvu13p-flga2577-2-e",
    "xcvu19p": "xcvu19p-fsva3824-2-e",
    "xcku5p": "xcku5p-ffvb676-2-e",
    "xcku15p": "xcku15p-ffve1517-2-e",
    "xczu9eg": "xczu9eg-ffvb1156-2-e",
    "xcau15p": "xcau15p-ffvb676-2-e",
    "xcku040": "xcku040-ffva1156-2-e",
    "xcku115": "xcku115-flvb2104-2-e",
    "xcvu440": "xcvu440-flga2892-2-e",
    "xcu250": "xcu250-figd2104-2L-e",
    "xcu280": "xcu280-fsvh2892-2L-e",
    "xc7a35t": "xc7a35ticsg324-1L",
    "xc7a100t": "xc7a100tcsg324-1",
    "xc7a200t": "xc7a200tsbg484-1",
    "xc7k325t": "xc7k325tffg900-2",
    "xc7k410t": "xc7k410tffg900-2",
    "xc7vx690t": "xc7vx690tffg1761-2",
    "xc7z020": "xc7z020clg400-1",
}


@pytest.mark.parametrize(("device", "part"), PARTS.items())
def test_every_device_in_the_table_is_found_from_its_part_name(device: str, part: str) -> None:
    found = device_of(part)
    assert found is DEVICES[device] and found.family == family_of(part)
    # CLBs hold two flip-flops per LUT in every family here (UltraScale(+) and 7 series)
    assert found.ffs == 2 * found.luts and 0 < found.dsps < found.luts and 0 < found.brams < found.luts
    assert "DS" in SOURCES[device]


def test_the_table_holds_the_devices_users_target() -> None:
    assert set(DEVICES) == set(PARTS)
    assert device_of("xcvu13p-flga2577-2-e") == Device("xcvu13p", "xcup", 1_728_000, 3_456_000, 12_288, 2_688)
    assert device_of("XC7A35TICSG324-1L") == Device("xc7a35t", "xc7", 20_800, 41_600, 90, 50)


def test_a_made_up_device_is_refused_with_the_known_ones() -> None:
    message = (
        r"card: firmware.part 'xcvu99999-flga2577-2-e': device 'xcvu99999' is not one this flow knows the size of"
        r".*did you mean 'xcvu9p'\? valid devices: xcau15p, .*xcvu13p, xcvu19p, xcvu440, xcvu9p, xczu9eg$"
    )
    with pytest.raises(CardError, match=message):
        check_part("xcvu99999-flga2577-2-e", "card")
    with pytest.raises(CardError, match=r"device 'xc7a50t' .* valid devices: xc7a100t, xc7a200t, xc7a35t, .*xc7z020$"):
        card_from_dict({"name": "m", "task": "cdms_lfn", "firmware": {"part": "xc7a50tcsg324-1"}})
    with pytest.raises(CardError, match=r"card: firmware.part 'xcvu99999-bogus' is not a part of a supported"):
        card_from_dict({"name": "m", "task": "cdms_lfn", "firmware": {"part": "xcvu99999-bogus"}})
    assert check_part("xcvu13p-flga2577-2-e", "card").name == "xcvu13p"
