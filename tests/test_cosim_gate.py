"""The cosim gate: which measured results fail the stage, and with what message."""

from __future__ import annotations

import dataclasses

import pytest

from trigger_nn.artifacts import CosimResult
from trigger_nn.cosim import check
from trigger_nn.errors import BudgetError, MismatchError


def test_a_passing_run_passes(passing_cosim: CosimResult) -> None:
    check(passing_cosim)
    check(dataclasses.replace(passing_cosim, latency_budget_ns=20.0))  # exactly on budget is within it


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"mismatches": 3, "first_mismatch": "vector 7 ...", "failure": "3 wrong"}, MismatchError, "vector 7"),
        ({"latency_cycles": 5, "failure": "measured latency 5"}, MismatchError, "latency of 5 cycles"),
        ({"latency_cycles": -1, "ii_cycles": -1, "failure": "latency is ambiguous"}, MismatchError, "ambiguous"),
        ({"latency_budget_ns": 15.0}, BudgetError, "20.0 ns exceeds the budget of 15.0 ns"),
        ({"ii_cycles": 4, "input_interval_budget_cycles": 2}, BudgetError, "new input every 4 cycles"),
        (
            {"idle_gap_vectors": 4000, "idle_gap_mismatches": 2, "idle_gap_failure": "vector 12 wrong"},
            MismatchError,
            "random idle cycles .* 2 wrong outputs in 4000 vectors: vector 12",
        ),
    ],
)
def test_each_failure_names_its_cause(
    passing_cosim: CosimResult, change: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check(dataclasses.replace(passing_cosim, **change))
