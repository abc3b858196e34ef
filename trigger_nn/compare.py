"""`trigger-nn compare`: built cards of one task side by side, each report checked to belong to its card.

The comparison reads only the cards and their reports (``report.json``, whose ``verdict`` the report
stage writes): a report that is stale for its card, or whose firmware did not PASS, is refused, so a
side-by-side figure is always of firmware that was verified from these cards. What is compared is
the task's business (``Task.compare``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from . import provenance
from .artifacts import atomic_path
from .card import Card
from .errors import CardError
from .tasks import get_task

log = logging.getLogger(__name__)


def folder(cards: list[Card], projects: Path) -> Path:
    return Path(projects) / ("compare_" + "_".join(c.name for c in cards))


def run(cards: list[Card], projects: Path) -> Path:
    """Write ``compare.md`` and ``compare.json`` (and the task's plots) for ``cards``; returns their folder."""
    if len(cards) < 2 or len({c.name for c in cards}) < len(cards):
        raise CardError("compare needs two or more cards with different names")
    if len({c.task for c in cards}) > 1:
        raise CardError(f"compare sets cards of one task side by side; got tasks {sorted({c.task for c in cards})}")
    task = get_task(cards[0].task)
    reports = []
    for card in cards:
        project = Path(projects) / card.name
        provenance.require_fresh(card, project, ["report"], needed_by="compare")
        report = json.loads((project / "report.json").read_text())
        if "verdict" not in report:
            raise CardError(f"{card.name}: its report was written by an older trigger_nn; run `trigger-nn report` "
                            "on its card again")  # fmt: skip
        if report["verdict"] != "PASS":
            raise CardError(f"{card.name}: its firmware did not PASS ({project / 'report.md'}); compare sets only "
                            "verified firmware side by side")  # fmt: skip
        reports.append(report)
    out = folder(cards, projects)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    physics = task.compare(
        [c.name for c in cards], [c.data for c in cards], [r["physics"]["firmware"] for r in reports], out / "plots"
    )
    if physics is None:
        raise CardError(f"task {cards[0].task!r} has nothing to compare between cards")
    firmware = {
        r["model"]: {
            "latency_ns": r["latency"]["latency_ns"],
            "latency_cycles": r["latency"]["latency_cycles"],
            "estimated_luts": r["resources"]["estimate"]["luts"],
            "source_hash_sha256": r["source_hash_sha256"],
        }
        for r in reports
    }
    lines = [
        f"# trigger_nn comparison: {', '.join(c.name for c in cards)}",
        "",
        "Each card's report was checked to belong to its card and its firmware to PASS (bit-exact in verify and "
        "co-simulation, within its latency budget). The figures below are read from those reports.",
        "",
        "| card | latency | estimated LUTs | generated sources (sha256) |",
        "|---|---|---|---|",
        *[
            f"| {name} | {f['latency_cycles']} cycles = {f['latency_ns']:g} ns | {f['estimated_luts']:,} | "
            f"`{f['source_hash_sha256'][:16]}` |"
            for name, f in firmware.items()
        ],
        "",
        *physics.markdown,
    ]
    with atomic_path(out / "compare.json") as tmp:
        summary = {"cards": [c.name for c in cards], "firmware": firmware, "physics": physics.metrics}
        tmp.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    with atomic_path(out / "compare.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    log.info("comparison: %s", out / "compare.md")
    return out
