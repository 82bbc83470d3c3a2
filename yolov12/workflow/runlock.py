"""One writer per run directory: a retry never trains beside a process of an earlier attempt.

Two ``flock`` files in the run directory, released by the kernel when their holder dies (even by kill -9):

- ``.writer.lock``, held exclusively by the job process that trains, for its whole life;
- ``.workers.lock``, held shared by every worker process of a multi-device training (``SuiteTrainerMixin``), so a
  DDP worker orphaned by its launcher's death still marks the folder as in use.

A job that finds either held waits for the holders to finish (``YOLOV12_ORPHAN_WAIT_S``, default 120 s); after that
it stops them (SIGTERM, then SIGKILL): holding this folder's lock, they can only be an earlier attempt of this same
training. Holders are read from the kernel's lock table (``/proc/locks``), not from a record that a killed process
could leave stale. Every step is returned as a note for ``attempts.json``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

WRITER = ".writer.lock"
WORKERS = ".workers.lock"
WAIT_ENV = "YOLOV12_ORPHAN_WAIT_S"
_held: list[int] = []  # worker-side lock fds, kept open for the life of the process


def lock_holders(path: str | Path) -> list[int]:
    """Pids holding a lock on ``path`` now, from ``/proc/locks`` (empty where the kernel does not list them)."""
    try:
        st = os.stat(path)
        table = Path("/proc/locks").read_text()
    except OSError:
        return []
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = set()
    for line in table.splitlines():
        fields = line.split()
        if "->" in fields[:2] or len(fields) < 6:  # '->' marks a process waiting for the lock, not holding it
            continue
        if fields[5] == dev:
            pids.add(int(fields[4]))
    return sorted(p for p in pids if p != os.getpid())


def _try(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _acquire(path: Path, mode: int, wait_s: float, notes: list[str], what: str) -> int:
    """Lock ``path`` in ``mode``; after ``wait_s`` stop the holders (an earlier attempt) and take it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    if _try(fd, mode):
        return fd
    holders = lock_holders(path)
    notes.append(f"{what} held by pid(s) {holders or '?'}: waiting up to {wait_s:g} s for them to end")
    log.warning("%s", notes[-1])
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if _try(fd, mode):
            return fd
    for sig, grace in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
        holders = lock_holders(path)
        if not holders:
            break
        notes.append(f"stopped pid(s) {holders} of an earlier attempt with {sig.name}")
        log.warning("%s", notes[-1])
        for pid in holders:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if _try(fd, mode):
                return fd
            time.sleep(0.2)
    if _try(fd, mode):
        return fd
    os.close(fd)
    raise RuntimeError(f"{path.parent}: {what} is still held by pid(s) {lock_holders(path) or '?'} (on another "
                       "node, or not ours to stop): end that process, then rerun")


@contextlib.contextmanager
def sole_writer(run_dir: str | Path, wait_s: float | None = None) -> Iterator[list[str]]:
    """Hold ``run_dir`` for one training job; yields the notes of what had to be waited for or stopped."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    wait_s = float(os.environ.get(WAIT_ENV, 120)) if wait_s is None else wait_s
    notes: list[str] = []
    writer = _acquire(run_dir / WRITER, fcntl.LOCK_EX, wait_s, notes, "the run directory")
    try:
        workers = _acquire(run_dir / WORKERS, fcntl.LOCK_EX, wait_s, notes, "the run directory's workers lock")
        os.close(workers)  # no orphan left; this attempt's own workers take it shared
        yield notes
    finally:
        os.close(writer)


def hold_as_worker(run_dir: str | Path) -> None:
    """In a DDP worker: mark the run directory as in use for as long as this process lives."""
    fd = os.open(Path(run_dir) / WORKERS, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _held.append(fd)
