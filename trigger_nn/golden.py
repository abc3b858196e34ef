"""Golden vectors: a small committed file per model that pins the reference and the firmware made from it.

``trigger-nn golden CARD`` takes a verified build and writes, beside the card, ``models/<name>/``:
``model.keras`` (the trained reference) and ``golden.npz`` (input words, the reference's output
words, both bus formats, the sha256 of the generated HLS, Verilog and VHDL sources). The regression
tests rebuild the firmware from the committed model and check, bit for bit, that the reference,
hls4ml's C simulation, the Verilog emulation and the co-simulated Verilog still give these words,
and that the generated sources are byte-identical: a change anywhere that alters the model or
its firmware fails them.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import provenance
from .artifacts import CompileResult, VectorKind, VerifyResult, WordVectors, atomic_path
from .card import Card
from .errors import ArtifactError, MismatchError

log = logging.getLogger(__name__)

#: how many of each kind of verify vector go into the committed file (edge vectors: all of them)
PER_KIND = 128


@dataclass(frozen=True, kw_only=True)
class Golden(WordVectors):
    source_hash: str

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **self.npz_fields(), source_hash=self.source_hash)

    @classmethod
    def load(cls, path: Path) -> Golden:
        if not Path(path).is_file():
            raise ArtifactError(f"no golden vectors at {path}: build the model, then run `trigger-nn golden CARD`")
        with np.load(path) as z:
            return cls(**WordVectors.fields_from_npz(z), source_hash=str(z["source_hash"]))


def golden_dir(card: Card) -> Path:
    """``models/<name>/`` beside the card file."""
    if card.source is None:
        raise ArtifactError("golden vectors live beside the card file; load the card from a file")
    return card.source.parent / card.name


def run(card: Card, project: Path) -> Path:
    provenance.require_fresh(card, project, [*provenance.upstream("verify"), "verify"], needed_by="golden")
    verified = VerifyResult.load(project / "verify.json")
    if not verified.passed:
        raise MismatchError(f"{project / 'verify.json'} records mismatches: golden vectors come from a verified build")
    compiled = CompileResult.load(project / "compile.json")
    vectors = verified.vectors()
    try:
        out = compiled.output_format.to_words(vectors.reference)
    except ValueError as err:
        raise MismatchError(f"the reference's outputs are not words of the output bus ({err})") from err
    pick = np.concatenate(
        [vectors.of_kind(VectorKind.EDGE)]
        + [vectors.of_kind(k)[:PER_KIND] for k in (VectorKind.TEST_SET, VectorKind.RANDOM)]
    )
    target = golden_dir(card)
    target.mkdir(parents=True, exist_ok=True)
    Golden(
        inp_words=vectors.inp_words[pick],
        out_words=out[pick],
        input_format=compiled.input_format,
        output_format=compiled.output_format,
        source_hash=compiled.source_hash,
    ).save(target / "golden.npz")
    trained = project / "train" / "model.keras"
    with atomic_path(target / "model.keras") as tmp:
        shutil.copyfile(trained, tmp)
    log.info("golden: %d vectors and the model in %s (commit them)", len(pick), target)
    return target
