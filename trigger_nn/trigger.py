"""Stage `trigger`: the task's whole trigger as one streaming firmware block, checked sample by sample.

Reads the trained model, the test set and verify's scores (the operating point comes from them, as in
the report); writes ``trigger/`` (the Verilog, its Verilator build, the runs) and ``trigger.json``. For
a task whose trigger is its network alone, ``trigger.json`` says so and nothing is built. A mismatch
fails the stage naming the part it points at (FIR, network, decision logic), as does a latency over the
card's budget.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from . import provenance
from .artifacts import DatasetInfo, TrainResult, TriggerResult, VerifyResult
from .card import Card
from .dataset import read_dataset
from .errors import BudgetError, MismatchError
from .tasks import get_task

log = logging.getLogger(__name__)


def run(card: Card, project: Path) -> TriggerResult:
    provenance.check_inputs(card, project, "trigger")
    (project / "trigger.json").unlink(missing_ok=True)  # no stale verdict if this run stops half-way
    verified = VerifyResult.load(project / "verify.json")
    if not verified.passed:
        raise MismatchError(f"{project / 'verify.json'} records mismatches; the trigger is built on a verified network")
    trained = TrainResult.load(project / "train" / "training.json")
    info = DatasetInfo.load(project / "data" / "dataset.json")
    scores, rows = verified.vectors().test_set_outputs()
    task = get_task(card.task)
    test = read_dataset(info.path).test
    result = task.stream_trigger(card, trained.load_model(), test, info, scores, rows, project / "trigger")
    if result is None:
        result = TriggerResult(applies=False, reason=f"the {card.task} task's trigger is its network alone, which "
                               "compile, verify and cosim build and check")  # fmt: skip
    result = dataclasses.replace(result, made_from=provenance.record(card, project, "trigger"))
    result.save(project / "trigger.json")
    if not result.applies:
        log.info("trigger: %s", result.reason)
        return result
    for r in result.runs:
        if any(r.mismatches.values()):
            raise MismatchError(
                f"the trigger firmware differs from its integer model in run {r.name}: {result.diagnosis}; "
                f"{r.first_mismatch} (all runs in {project / 'trigger.json'})"
            )
    lat = result.expected_latency_cycles
    for r in result.runs:
        if r.latency_cycles != (lat, lat):
            raise MismatchError(f"run {r.name}: latency {r.latency_cycles} cycles, the design's depth is {lat}")
    if lat * result.clock_period_ns > result.latency_budget_ns:
        raise BudgetError(
            f"the trigger's latency {lat} cycles = {lat * result.clock_period_ns:g} ns exceeds the budget of "
            f"{result.latency_budget_ns:g} ns (firmware.latency_budget_ns)"
        )
    log.info(
        "trigger: %s through %s, back to back and with gaps: 0 mismatching OF words, scores and decisions "
        "(%d candidates, %d triggers); latency %d cycles = %g ns",
        result.stream, result.top, result.candidates, result.triggers, lat, lat * result.clock_period_ns,
    )  # fmt: skip
    return result
