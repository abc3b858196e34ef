"""What each stage's artifact was made from, and whether it still belongs to the card and to its inputs.

A stage records, in its artifact's ``made_from``, the sha256 of the card sections it read, of each
artifact it read (the JSON files' bytes) and of the files its artifact describes (the dataset, the
model, the verify vectors). A stage checks before it runs that everything upstream still matches the
card and each other; `report` refuses to mix; `build` re-runs only what does not match. A re-run
stage writes a new artifact, so everything that read the old one no longer matches: invalidation
follows from the hashes, with no state kept anywhere else.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artifacts import SCHEMA_VERSION, Provenance
from .card import Card, card_to_dict
from .errors import ArtifactError
from .hashing import sources_hash


@dataclass(frozen=True)
class StageFiles:
    """One stage's artifact, the card keys it reads, the stages whose artifacts it reads, the files it describes."""

    artifact: str
    sections: tuple[str, ...]
    reads: tuple[str, ...]
    files: tuple[str, ...] = ()
    optional_reads: tuple[str, ...] = ()  # read when they belong to this card and its inputs (synth, for the report)


CARD_SECTIONS = ("name", "task", "seed", "data", "network", "training", "firmware", "verify", "cosim", "scan")

#: every stage with an artifact, in the order of the flow (paths relative to the project folder); the firmware
#: section is compile's: the stages after it read the design through compile.json, so a new clock or budget
#: reaches them through it
STAGES: dict[str, StageFiles] = {
    "simulate": StageFiles("data/dataset.json", ("task", "seed", "data"), (), ("data/dataset.h5",)),
    "train": StageFiles(
        "train/training.json", ("task", "seed", "data", "network", "training"), ("simulate",), ("train/model.keras",)
    ),
    "compile": StageFiles(
        "compile.json",
        ("name", "firmware"),
        ("simulate", "train"),
        ("rtl/model/logic.json", "rtl/src", "vhdl/src", "hls"),
    ),
    "verify": StageFiles(
        "verify.json", ("name", "seed", "verify"), ("simulate", "train", "compile"), ("verify/vectors.npz",)
    ),
    "cosim": StageFiles("cosim.json", ("name", "seed", "cosim"), ("compile", "verify"), ("testbench",)),
    "trigger": StageFiles("trigger.json", ("name", "seed", "data", "firmware"), ("simulate", "train", "verify")),
    "synth": StageFiles("synth.json", ("name", "firmware"), ("compile",), optional_reads=("trigger",)),
    "report": StageFiles(
        "report.json",
        CARD_SECTIONS,
        ("simulate", "train", "compile", "verify", "cosim", "trigger"),
        optional_reads=("synth",),
    ),
}


def card_digest(card: Card, sections: tuple[str, ...]) -> str:
    """sha256 of the card's ``sections`` (with every default filled in) as canonical JSON."""
    plain = card_to_dict(card)
    chosen = {key: plain[key] for key in sections if key in plain}
    return hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, or of the generated sources under a folder."""
    if path.is_dir():
        return sources_hash(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def upstream(stage: str) -> list[str]:
    """Every stage whose artifact ``stage`` depends on, directly or not, in the order of the flow."""
    found: set[str] = set()
    todo = list(STAGES[stage].reads)
    while todo:
        s = todo.pop()
        if s not in found:
            found.add(s)
            todo.extend(STAGES[s].reads)
    return [s for s in STAGES if s in found]


def fresh_optional_reads(card: Card, project: Path, stage: str) -> list[str]:
    """The optional inputs of ``stage`` that belong to this card and its inputs (and so are to be read)."""
    return [s for s in STAGES[stage].optional_reads if stale_reason(card, project, s) is None]


def record(
    card: Card, project: Path, stage: str, *, optional: list[str] | None = None, external: list[Path] | None = None
) -> Provenance:
    """What ``stage`` made its artifact from: call it after the stage's files are written.

    ``optional``: the optional inputs it read (by default those that are fresh now). ``external``: files outside
    the project it was made from (the committed model beside the card), recorded by their absolute path, so that
    a change to them makes the stage out of date too, wherever the project is copied.
    """
    spec = STAGES[stage]
    optional = fresh_optional_reads(card, project, stage) if optional is None else optional
    outside = [str(Path(p).absolute()) for p in external or []]
    return Provenance(
        card=card_digest(card, spec.sections),
        sections={section: card_digest(card, (section,)) for section in spec.sections},
        inputs={STAGES[s].artifact: file_sha256(project / STAGES[s].artifact) for s in (*spec.reads, *optional)},
        files={f: file_sha256(project / f) for f in (*spec.files, *outside)},
    )


def _recorded(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stale_reason(card: Card, project: Path, stage: str) -> str | None:
    """Why ``stage``'s artifact does not belong to this card and these inputs, or None when it does."""
    spec = STAGES[stage]
    path = project / spec.artifact
    if not path.is_file():
        return f"{path} does not exist"
    data = _recorded(path)
    if data.get("schema_version") != SCHEMA_VERSION:
        return (
            f"{path} was written by another version of trigger_nn (artifact schema "
            f"{data.get('schema_version')!r}; this version writes {SCHEMA_VERSION})"
        )
    made = data.get("made_from")
    if not made:
        return f"{path} does not record what it was made from (written by an older trigger_nn, or damaged)"
    if made.get("card") != card_digest(card, spec.sections):
        recorded = made.get("sections") or {}
        changed = [s for s in spec.sections if recorded.get(s) != card_digest(card, (s,))]
        if not recorded or not changed:  # written before sections were recorded
            changed = list(spec.sections)
        what = f"section {changed[0]} differs" if len(changed) == 1 else f"sections {', '.join(changed)} differ"
        return f"{path} was made from another card (its {what} from the card's now)"
    for name, digest in {**made.get("inputs", {}), **made.get("files", {})}.items():
        file = project / name
        if not file.exists():
            return f"{path} was made with {file}, which is gone"
        if file_sha256(file) != digest:
            return f"{path} was made from another {file} than the one there now"
    for s in fresh_optional_reads(card, project, stage):
        if STAGES[s].artifact not in made.get("inputs", {}):
            return f"{path} was made before {project / STAGES[s].artifact}, which it would show"
    return None


def check_inputs(card: Card, project: Path, stage: str) -> None:
    """Refuse to run ``stage`` on artifacts that belong to another card or to each other's older versions."""
    require_fresh(card, project, upstream(stage), needed_by=stage)


def require_fresh(card: Card, project: Path, stages: list[str], *, needed_by: str) -> None:
    """An ArtifactError naming the first of ``stages`` whose artifact is stale, and the command to run."""
    for s in stages:
        reason = stale_reason(card, project, s)
        if reason is not None:
            raise ArtifactError(
                f"`trigger-nn {needed_by}` needs what `trigger-nn {s}` writes, for this card: {reason}; run "
                f"`trigger-nn {s}` and the stages after it on this card, or `trigger-nn build`, which re-runs exactly "
                "what is out of date"
            )
