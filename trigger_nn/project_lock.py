"""One trigger-nn at a time per project folder, and what an interrupted one left behind cleared away.

A second command on the same folder refuses at once, naming the one that holds it, rather than racing
it (two builds of one card used to fail in g++'s linker after 150 lines of warnings). Under the lock,
the temporary folders an interrupted run left (``atomic_path``'s ``.<name>.<random>``) are removed:
no run can be writing them.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import BusyError

log = logging.getLogger(__name__)

LOCK_FILE = ".trigger-nn.lock"
#: ``tempfile.mkdtemp(prefix=".<name>.")``: a dot, the name, a dot and eight random characters
_LEFTOVER = re.compile(r"\..+\.[a-z0-9_]{8}")


@contextmanager
def hold(folder: Path, command: str) -> Iterator[None]:
    """Hold ``folder`` for ``command``; a BusyError at once if another process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(13, "cannot write in the project folder", str(folder))
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text().strip() or "another process"
            raise BusyError(
                f"{folder} is in use by {holder}; wait for it to finish (or stop it), then run again"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"`trigger-nn {command}` (pid {os.getpid()}, since {time.strftime('%H:%M:%S')})\n".encode())
        remove_leftovers(folder)
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_leftovers(folder: Path) -> None:
    """Remove the temporary folders of interrupted runs under ``folder``."""
    found = [p for p in folder.rglob(".*") if p.is_dir() and _LEFTOVER.fullmatch(p.name)]
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    if found:
        log.info("removed %d temporary folder(s) an interrupted run left in %s", len(found), folder)
