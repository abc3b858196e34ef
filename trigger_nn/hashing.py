"""Content hashes of generated sources: what the report quotes and what build caches key on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def files_hash(files: Iterable[Path], root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def tree_hash(root: Path, suffixes: tuple[str, ...] = ()) -> str:
    """sha256 over every file under ``root`` (names and bytes), optionally only those with ``suffixes``."""
    root = Path(root)
    files = [p for p in root.rglob("*") if p.is_file() and (not suffixes or p.suffix in suffixes)]
    return files_hash(files, root)
