"""Shared fixtures: the repository's paths, and the environment the real tools need."""

from __future__ import annotations

from pathlib import Path

import pytest

from trigger_nn._deps import setup_environment
from trigger_nn.artifacts import CosimResult

REPO = Path(__file__).resolve().parents[1]

setup_environment()


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def passing_cosim() -> CosimResult:
    """A cosim result that meets the default card's budget: 4 cycles at 5 ns, II 1, no mismatch."""
    return CosimResult(
        simulator="Verilator (cocotb)",
        vectors=4000,
        cycles=4044,
        mismatches=0,
        latency_cycles=4,
        expected_latency_cycles=4,
        ii_cycles=1,
        clock_period_ns=5.0,
        latency_budget_ns=1600.0,
        input_interval_budget_cycles=320,
    )
