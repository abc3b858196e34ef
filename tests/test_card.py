"""Model cards: the defaults, and one clear message per kind of mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from trigger_nn import card as card_module
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


def write(tmp_path: Path, text: str) -> Path:
    card = tmp_path / "m.yaml"
    card.write_text(text)
    return card


def test_default_cards_keep_their_values(repo: Path) -> None:
    """Every value a default card gives loads as written (the golden firmware tests depend on them)."""
    for name in ("cdms_lfn", "ecl_photon"):
        path = repo / "models" / f"{name}.yaml"
        raw = yaml.safe_load(path.read_text())
        plain = card_to_dict(load_card(path))
        for key, value in raw.items():
            assert _as_given(plain[key], value) == value, (name, key)


def _as_given(loaded, written):
    """The loaded value cut to the keys the card wrote (the rest are defaults), in sections and lists of them."""
    if isinstance(written, dict):
        return {k: _as_given(loaded[k], v) for k, v in written.items()}
    if isinstance(written, list) and len(written) == len(loaded):
        return [_as_given(a, b) for a, b in zip(loaded, written, strict=True)]
    return loaded


def test_booleans_are_true_or_false(tmp_path: Path) -> None:
    card = load_card(write(tmp_path, "name: m\ntask: cdms_lfn\ncosim: {waves: true, idle_gaps: false}\n"))
    assert card.cosim.waves is True and card.cosim.idle_gaps is False
    for value in ('"yes"', "1"):
        with pytest.raises(CardError, match=r"m\.yaml\.cosim\.waves: expected true or false, got"):
            load_card(write(tmp_path, f"name: m\ntask: cdms_lfn\ncosim: {{waves: {value}}}\n"))


def test_the_name_is_an_ascii_identifier() -> None:
    with pytest.raises(CardError, match=r"card\.name: 'détecteur' must start with a letter .* all ASCII"):
        card_from_dict({"name": "détecteur", "task": "cdms_lfn"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"seed": -1}, "card: seed must be in [0, 4294967295]"),
        ({"seed": 2**70}, "card: seed must be in [0, 4294967295]"),
        ({"network": {"beta": -1}}, "card: network.beta must be at least 0"),
        ({"training": {"patience": -1}}, "card: training.patience must be at least 0"),
        ({"network": {"weight_bits": 64}}, "card: network.weight_bits must be in [1, 23]"),
        ({"network": {"weight_bits": 0}}, "card: network.weight_bits must be in [1, 23]"),
        ({"network": {"hidden_units": [16, 0]}}, "card: network.hidden_units[1] must be positive"),
        (
            {"network": {"hidden_units": [2_000_000]}},
            "network.hidden_units[0] must be positive and at most the 1,728,000",
        ),
        ({"verify": {"n_vectors": 10**9}}, "card: verify.n_vectors must be at most 10,000,000"),
        ({"cosim": {"n_vectors": 10**9}}, "card: cosim.n_vectors must be at most 10,000,000"),
        ({"firmware": {"clock_period_ns": 0.5}}, "card: firmware.clock_period_ns must be at least 0.72 ns on xcvu13p"),
        ({"firmware": {"clock_period_ns": 1e-320}}, "card: firmware.clock_period_ns must be at least 0.72 ns"),
        ({"firmware": {"max_luts": 0}}, "card: firmware.max_luts must be positive"),
        ({"firmware": {"max_luts": 2_000_000}}, "card: firmware.max_luts must be at most xcvu13p's 1,728,000"),
        ({"data": {"lfn_of_min_sigma": -1.0}}, "card: data.lfn_of_min_sigma must not be negative"),
        ({"data": {"lfn_band_hz": [300.0, 4e5]}}, "card: data.lfn_band_hz [300.0, 400000.0] reaches above the Nyquist"),
        (
            {"task": "ecl_photon", "data": {"alp_fraction": 0.0, "alp_mass_gev": -1}},
            "data.alp_mass_gev must be positive",
        ),
    ],
)
def test_numbers_out_of_range_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(CardError, match=re.escape(message)):
        card_from_dict({"name": "m", "task": "cdms_lfn"} | raw)


def test_edges_of_the_ranges_load() -> None:
    card = card_from_dict(
        {
            "name": "m",
            "task": "cdms_lfn",
            "seed": 2**32 - 1,
            "network": {"weight_bits": 23, "beta": 0},
            "training": {"patience": 0},
            "firmware": {"max_luts": 100_000},
        }
    )
    assert (card.seed, card.network.weight_bits, card.training.patience, card.firmware.max_luts) == (
        2**32 - 1,
        23,
        0,
        100_000,
    )
    assert card_from_dict({"name": "m", "task": "cdms_lfn"}).firmware.max_luts is None


def test_a_dataset_larger_than_the_memory_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        CardError, match=r"card: data asks for a dataset of about [\d,.]+ GiB in memory .* this machine's"
    ):
        card_from_dict({"name": "m", "task": "cdms_lfn", "data": {"n_train": 1_000_000_000_000}})
    monkeypatch.setattr(card_module, "machine_memory_bytes", lambda: 2**30)
    need = CdmsLfnData(n_train=2 * 10**6).dataset_bytes() / 2**30
    with pytest.raises(CardError, match=rf"about {need:,.1f} GiB in memory .* more than this machine's 1\.0 GiB"):
        card_from_dict({"name": "m", "task": "cdms_lfn", "data": {"n_train": 2 * 10**6}})
    card_from_dict({"name": "m", "task": "ecl_photon"})  # the default cards fit in a GiB


def test_numbers_written_with_an_exponent(tmp_path: Path) -> None:
    """YAML 1.1 reads 1e3 (no dot, no exponent sign) as a string; a plain decimal number is taken as the number."""
    card = load_card(
        write(
            tmp_path,
            "name: m\ntask: cdms_lfn\ndata: {n_train: 1e3, stream_seconds: 1.5e3}\ntraining: {learning_rate: 3e-3}\n",
        )
    )
    assert (card.data.n_train, card.data.stream_seconds, card.training.learning_rate) == (1000, 1500.0, 0.003)
    assert card_from_dict({"name": "m", "task": "cdms_lfn", "data": {"n_train": 2000.0}}).data.n_train == 2000
    for value, message in (
        ("1.5", "card.data.n_train: expected an integer, got '1.5'"),
        ("1e3x", "expected an integer, got '1e3x'"),
        ("inf", "expected an integer, got 'inf'"),
    ):
        with pytest.raises(CardError, match=re.escape(message)):
            card_from_dict({"name": "m", "task": "cdms_lfn", "data": {"n_train": value}})
    with pytest.raises(
        CardError, match=re.escape("card.training.learning_rate: expected a finite number, got '1e999'")
    ):
        card_from_dict({"name": "m", "task": "cdms_lfn", "training": {"learning_rate": "1e999"}})
    with pytest.raises(CardError, match=re.escape("card.training.learning_rate: expected a finite number")):
        card_from_dict({"name": "m", "task": "cdms_lfn", "training": {"learning_rate": 10**400}})


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    text = "name: m\ntask: cdms_lfn\nfirmware:\n  clock_period_ns: 5.0\n  clock_period_ns: 2.5\n"
    with pytest.raises(CardError, match=r"m\.yaml: line 5: key 'clock_period_ns' is given twice .*first on line 4"):
        load_card(write(tmp_path, text))
    with pytest.raises(CardError, match=r"line 3: key 'name' is given twice .*first on line 1"):
        load_card(write(tmp_path, "name: m\ntask: cdms_lfn\nname: n\n"))
    with pytest.raises(CardError, match=r"line 1: key 'waves' is given twice"):
        load_card(write(tmp_path, "cosim: {waves: true, waves: false}\nname: m\ntask: cdms_lfn\n"))


@pytest.mark.parametrize(
    ("network", "message"),
    [
        ({"architecture": "cnn1d", "hidden_units": [8]}, "network.hidden_units belongs to architecture mlp, not to"),
        ({"filters": [4]}, "network.filters belongs to architecture cnn1d and cnn2d, not to 'mlp'"),
        ({"architecture": "mlp", "builder": "a.b:c"}, "network.builder belongs to architecture python"),
        ({"architecture": "cnn3d"}, "network.architecture: 'cnn3d' is not one of mlp, cnn1d, cnn2d, python"),
        ({"architecture": "cnn2d", "filters": []}, "network.filters must be a non-empty list"),
        ({"architecture": "cnn1d", "kernel_size": 0}, "network.kernel_size must be at least 1"),
        ({"architecture": "cnn1d", "dense_units": [4, -1]}, "network.dense_units[1] must be positive"),
        ({"architecture": "python", "builder": "no_function"}, "network.builder must name a Python function"),
        ({"lut_layer": True}, "did you mean 'lut_layers'?"),
    ],
)
def test_each_architecture_has_its_own_keys(network: dict, message: str) -> None:
    with pytest.raises(CardError, match=re.escape(message)):
        card_from_dict({"name": "m", "task": "cdms_lfn", "network": network})


def test_an_architecture_takes_its_own_defaults() -> None:
    cnn = card_from_dict({"name": "m", "task": "cdms_lfn", "network": {"architecture": "cnn2d", "lut_layers": True}})
    assert (cnn.network.architecture, cnn.network.filters, cnn.network.lut_layers) == ("cnn2d", (4,), True)
    assert card_to_dict(cnn)["network"]["kernel_size"] == 3
    assert card_from_dict({"name": "m", "task": "cdms_lfn"}).network.hidden_units == (16, 8)
