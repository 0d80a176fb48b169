"""Share batches of work over MPI ranks with dynamic load balancing (mpi4py), or run serially.

Work is a list of batch indices ``0 .. n-1`` and a function ``work(i)`` that returns a
picklable result. Under ``mpiexec -n N`` (N > 1) rank 0 hands out batch indices on request: a
dispatcher thread on rank 0 answers the workers (ranks 1..N-1) while rank 0's main thread takes
batches from the same queue itself, so all N ranks compute. A worker's request carries the
result of its previous batch. Results come back to rank 0 ordered by batch index, so the
outcome never depends on the number of ranks or on who computed what. Without MPI, or with one
rank, the same ``work`` runs in a plain loop.

A failing rank logs the error (rank, batch, message), waits a second so the launcher forwards
that line, and calls ``MPI.Abort``: the whole run ends with a non-zero exit status instead of
hanging.

MPI is used only when a launcher is detected (``PMI_SIZE``/``PMI_RANK`` of MPICH/Hydra,
``OMPI_COMM_WORLD_SIZE`` of Open MPI, ``PMIX_RANK``, ``SLURM_`` + ``PMI`` under ``srun``), so a
plain ``skysift predict-map`` never initialises MPI.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from tqdm import tqdm

log = logging.getLogger(__name__)

R = TypeVar("R")

_LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")
_TAG_REQUEST = 11
_TAG_ASSIGN = 12
_POLL_S = 0.002
# MPI_Abort tears the job down at once; the launcher (Hydra) may drop a rank's last output
# still in its pipe. This pause before the abort lets the error line reach the user.
_ABORT_GRACE_S = 1.0


def launched_by_mpi() -> bool:
    """True when an MPI launcher started this process."""
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def world_comm() -> Any | None:
    """``MPI.COMM_WORLD`` when launched by MPI with more than one rank, else None."""
    if not launched_by_mpi():
        return None
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    return comm if comm.Get_size() > 1 else None


def rank_of(comm: Any | None) -> int:
    """Rank of this process (0 without MPI)."""
    return 0 if comm is None else int(comm.Get_rank())


def size_of(comm: Any | None) -> int:
    """Number of ranks (1 without MPI)."""
    return 1 if comm is None else int(comm.Get_size())


def _abort(comm: Any, message: str) -> None:  # pragma: no cover - the process ends here
    log.critical("%s; aborting all %d ranks", message, size_of(comm))
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    time.sleep(_ABORT_GRACE_S)
    comm.Abort(1)


@contextmanager
def abort_on_error(comm: Any | None) -> Iterator[None]:
    """Turn an exception on any rank into ``MPI.Abort`` (no-op without MPI: it propagates)."""
    try:
        yield
    except BaseException as exc:
        if comm is not None:
            _abort(comm, f"rank {rank_of(comm)}: {type(exc).__name__}: {exc}")
        raise


class _Queue:
    """Thread-safe counter over batch indices."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.next = 0
        self.lock = threading.Lock()

    def take(self) -> int | None:
        with self.lock:
            if self.next >= self.n:
                return None
            self.next += 1
            return self.next - 1


def run_batches(
    n_batches: int,
    work: Callable[[int], R],
    *,
    comm: Any | None = None,
    progress: bool = True,
    desc: str = "tiles",
) -> list[R] | None:
    """Compute ``work(i)`` for ``i in range(n_batches)``, shared over the ranks of ``comm``.

    Parameters
    ----------
    n_batches
        Number of work units.
    work
        Function of the batch index; its result must be picklable under MPI.
    comm
        An mpi4py communicator (every rank calls this function), or None for a serial run.
    progress
        Show a tqdm bar (rank 0).
    desc
        Label of the bar.

    Returns
    -------
    list or None
        On rank 0 (and serially): the results in batch order. On other ranks: None.
    """
    if comm is None or size_of(comm) == 1:
        return [work(i) for i in tqdm(range(n_batches), desc=desc, disable=not progress)]
    if rank_of(comm) == 0:
        return _coordinate(n_batches, work, comm, progress, desc)
    _serve(work, comm)
    return None


def _coordinate(
    n_batches: int, work: Callable[[int], R], comm: Any, progress: bool, desc: str
) -> list[R]:
    from mpi4py import MPI

    queue = _Queue(n_batches)
    results: dict[int, R] = {}
    done_by: dict[int, int] = {}
    bar = tqdm(total=n_batches, desc=desc, disable=not progress)
    lock = threading.Lock()

    def record(index: int, result: R, rank: int) -> None:
        with lock:
            results[index] = result
            done_by[index] = rank
            bar.update(1)

    def dispatch() -> None:
        active = size_of(comm) - 1
        status = MPI.Status()
        try:
            while active:
                if not comm.Iprobe(source=MPI.ANY_SOURCE, tag=_TAG_REQUEST, status=status):
                    time.sleep(_POLL_S)
                    continue
                source = status.Get_source()
                message = comm.recv(source=source, tag=_TAG_REQUEST)
                if message is not None:
                    index, result = message
                    record(index, result, source)
                job = queue.take()
                comm.send(job, dest=source, tag=_TAG_ASSIGN)
                if job is None:
                    active -= 1
        except BaseException as exc:  # pragma: no cover - a broken message stream
            _abort(comm, f"rank 0 dispatcher: {type(exc).__name__}: {exc}")

    thread = threading.Thread(target=dispatch, name="skysift-dispatch", daemon=True)
    thread.start()
    job = queue.take()
    while job is not None:
        try:
            result = work(job)
        except BaseException as exc:
            _abort(comm, f"rank 0 failed on batch {job}: {type(exc).__name__}: {exc}")
            raise
        record(job, result, 0)
        job = queue.take()
    thread.join()
    bar.close()
    per_rank = [sum(1 for r in done_by.values() if r == k) for k in range(size_of(comm))]
    log.info("batches per rank: %s", per_rank)
    return [results[i] for i in range(n_batches)]


def wait_for_all(comm: Any | None, *, poll_s: float = 0.05) -> None:
    """Barrier that sleeps while waiting (MPICH's blocking calls spin and steal a core).

    Workers call it after their last batch and wait there while rank 0 merges and writes;
    rank 0 calls it at the very end. No-op without MPI.
    """
    if comm is None:
        return
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(poll_s)


def _serve(work: Callable[[int], Any], comm: Any) -> None:
    rank = rank_of(comm)
    message: tuple[int, Any] | None = None
    while True:
        comm.send(message, dest=0, tag=_TAG_REQUEST)
        job = comm.recv(source=0, tag=_TAG_ASSIGN)
        if job is None:
            return
        try:
            message = (job, work(job))
        except BaseException as exc:
            _abort(comm, f"rank {rank} failed on batch {job}: {type(exc).__name__}: {exc}")
            raise
