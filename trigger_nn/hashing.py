"""Content hashes of generated sources: what the report quotes and what build caches key on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def files_hash(files: Iterable[Path], root: Path, *, extra: Iterable[str] = ()) -> str:
    """sha256 over ``extra`` strings, then each file's path relative to ``root`` and its bytes, in sorted order."""
    h = hashlib.sha256()
    for part in extra:
        h.update(part.encode() + b"\0")
    for path in sorted(files):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


#: what a generator writes (not what a build makes of it: libraries, objects, logs)
SOURCE_SUFFIXES = (".cpp", ".h", ".hh", ".tcl", ".v", ".vhd", ".xdc", ".sdc", ".json", ".yml")


def sources_hash(root: Path) -> str:
    """sha256 over the generated source files under ``root`` (names and bytes)."""
    root = Path(root)
    return files_hash((p for p in root.rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES), root)


def tree_hash(root: Path) -> str:
    """sha256 over every file under ``root`` (names and bytes)."""
    root = Path(root)
    return files_hash((p for p in root.rglob("*") if p.is_file()), root)
