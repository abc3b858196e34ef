"""Quantised network builders (HGQ2 layers), chosen by the card's ``network.architecture``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..artifacts import FixedFormat
from ..card import ARCHITECTURES, NetworkConfig
from ..errors import CardError
from .mlp import build_mlp

BUILDERS: dict[str, Callable[..., Any]] = {"mlp": build_mlp}
assert set(BUILDERS) == set(ARCHITECTURES)


def build_model(net: NetworkConfig, *, input_shape: tuple[int, ...], input_kif: FixedFormat) -> Any:
    try:
        builder = BUILDERS[net.architecture]
    except KeyError:
        raise CardError(f"network.architecture {net.architecture!r} is not one of {', '.join(BUILDERS)}") from None
    return builder(net, input_shape=input_shape, input_kif=input_kif)
