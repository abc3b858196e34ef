"""Dask for the work that spreads over processes or machines: `scan`'s points and `verify`'s vectors.

A local cluster of single-threaded worker processes by default, or any scheduler the user names by
address (an HTCondor pool through dask-jobqueue, say), whose workers must see the same filesystem.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CardError

log = logging.getLogger(__name__)

#: Dask's own logging: its start-up and shutdown lines are not ours
DASK_LOG_LEVEL = logging.ERROR
#: local workers when the user names no number: the cores, at most this many
MAX_DEFAULT_WORKERS = 4


@dataclass(frozen=True)
class Cluster:
    """Where to run: ``workers`` local processes (None: the cores, at most 4), or the Dask ``scheduler`` at an
    address."""

    workers: int | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise CardError(f"--workers must be at least 1, got {self.workers}")
        if self.workers is not None and self.scheduler:
            raise CardError("give --workers or --scheduler, not both: a scheduler brings its own workers")


#: a local cluster of as many workers as the cores, at most MAX_DEFAULT_WORKERS
LOCAL = Cluster()


def dask_setup(worker: Any) -> None:
    """Run in each local worker process as it starts (a Dask preload): Ctrl-C in the terminal reaches every
    process of its group, and our own process is the one that answers it, stopping the cluster; a worker
    that raised KeyboardInterrupt too would only print its traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed").setLevel(DASK_LOG_LEVEL)
    # a task that raises reaches the caller as its exception, and the caller says what failed
    logging.getLogger("distributed.worker").setLevel(logging.CRITICAL)


@contextmanager
def client(cluster: Cluster, purpose: str) -> Iterator[Any]:
    """A Dask client: on the named scheduler, or on a local cluster of one single-threaded process per worker."""
    from dask.distributed import Client, LocalCluster

    dask_log = logging.getLogger("distributed")
    level = dask_log.level
    dask_log.setLevel(DASK_LOG_LEVEL)
    # a worker killed at shutdown leaves a semaphore its resource tracker would warn of (environment: inherited)
    os.environ.setdefault("PYTHONWARNINGS", "ignore:resource_tracker:UserWarning")
    try:
        if cluster.scheduler:
            where = Path.cwd()
            log.info("%s: on the Dask scheduler at %s (its workers must see %s)", purpose, cluster.scheduler, where)
            with Client(cluster.scheduler) as dask_client:
                yield dask_client
            return
        n = cluster.workers or max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))
        log.info("%s: local Dask cluster of %d worker process(es)", purpose, n)
        with (
            LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, preload=[__name__]
            ) as local,
            Client(local) as dask_client,
        ):
            yield dask_client
    finally:
        dask_log.setLevel(level)
