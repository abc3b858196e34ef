"""Model cards: the defaults, and one clear message per kind of mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trigger_nn.card import FirmwareConfig, Strategy, card_from_dict, card_to_dict, load_card
from trigger_nn.errors import CardError
from trigger_nn.tasks.cdms.config import CdmsLfnData


def test_every_card_in_models_loads(repo: Path) -> None:
    cards = sorted((repo / "models").glob("*.yaml"))
    assert cards, "models/ holds no model card"
    for path in cards:
        card = load_card(path)
        assert card.name == path.stem
        assert card.firmware.latency_budget_ns > 0


def test_defaults_fill_what_the_card_leaves_out() -> None:
    card = card_from_dict({"name": "tiny", "task": "cdms_lfn"})
    assert card.data == CdmsLfnData()
    assert card.firmware.latency_budget_ns == 1600.0
    assert card.firmware.strategy is Strategy.LATENCY
    assert card.firmware.input_interval_cycles == 320  # 1600 ns at 5 ns
    assert card_to_dict(card)["firmware"]["io_type"] == "io_parallel"


def test_input_interval_in_whole_cycles() -> None:
    assert FirmwareConfig(clock_period_ns=4.0, input_interval_ns=1600.0).input_interval_cycles == 400
    assert FirmwareConfig(clock_period_ns=3.0, input_interval_ns=10.0).input_interval_cycles == 3


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "m", "task": "cdms_lfn", "firmwre": {}}, "unknown key 'firmwre'; did you mean 'firmware'?"),
        ({"name": "m", "task": "cdms_lfn", "firmware": {"clock_period": 5}}, "did you mean 'clock_period_ns'?"),
        ({"name": "m", "task": "cdms_lfn", "data": {"windw": 32}}, "card.data: unknown key 'windw'"),
        ({"name": "m", "task": "cdms"}, "unknown task 'cdms'; did you mean 'cdms_lfn'?"),
        ({"task": "cdms_lfn"}, "missing required key 'name'"),
        ({"name": "m", "task": "cdms_lfn", "training": {"epochs": "ten"}}, "card.training.epochs: expected an integer"),
        ({"name": "m", "task": "cdms_lfn", "firmware": {"clock_period_ns": -5}}, "must be positive"),
        ({"name": "m", "task": "cdms_lfn", "firmware": {"strategy": "fast"}}, "'fast' is not one of latency"),
        ({"name": "m", "task": "cdms_lfn", "network": {"hidden_units": 8}}, "network.hidden_units: expected a list"),
        ({"name": "m", "task": "cdms_lfn", "data": {"lfn_band_hz": [3000.0, 300.0]}}, "data.lfn_band_hz must be"),
        ({"name": "m", "task": "cdms_lfn", "firmware": {"latency_budget_ns": float("nan")}}, "finite number"),
        ({"name": "bad name", "task": "cdms_lfn"}, "must start with a letter"),
        ({"name": "small", "task": "cdms_lfn"}, "'small' is a Verilog or C++ keyword"),
        ([1, 2], "a model card is a YAML mapping"),
    ],
)
def test_bad_cards_name_the_problem(raw: object, message: str) -> None:
    with pytest.raises(CardError, match=re.escape(message)):
        card_from_dict(raw)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="does not exist"):
        load_card(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(CardError, match="not valid YAML"):
        load_card(bad)
