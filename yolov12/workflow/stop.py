"""A training asked to stop (SIGTERM from scancel, preemption or a time limit; SIGINT from Ctrl-C) stops cleanly.

The first signal does not kill: it asks the training to stop at the end of the current epoch, once that epoch's
checkpoint is written (``check`` is called by the trainer's ``on_fit_epoch_end`` callback, after the save). If the
epoch is not done within the grace period, or a second signal arrives, the epoch is abandoned at once: checkpoints
are written whole or not at all (``yolov12.workflow.checkpoints``), so the last whole one is where the retry resumes.
Either way ``Stopped`` is raised; the job records why in ``attempts.json`` and exits with 128 + the signal number,
as a shell reports a process killed by that signal, so Snakemake counts the attempt failed and resubmits it.

The grace period (``YOLOV12_STOP_GRACE_S``, default 20 s) must end before the scheduler's kill: SLURM sends SIGKILL
``KillWait`` seconds (30 by default) after SIGTERM; the run-folder lock (``runlock``) waits 30 s for an orphan.

Only the process that installs the handlers (the job's main thread) catches the signals; DDP workers keep the
default action and die with the step, and their launcher then stops as above after its grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

GRACE_ENV = "YOLOV12_STOP_GRACE_S"
DEFAULT_GRACE_S = 20.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)
# attempts.json's reason for a stop, when nothing more precise is known (under SLURM the next attempt asks sacct)
REASONS = {signal.SIGTERM: "terminated", signal.SIGINT: "interrupted"}


class Stopped(BaseException):
    """Not an Exception: no ``except Exception`` on the way (Ultralytics, ours) may swallow a stop request."""

    def __init__(self, signum: int, abandoned: bool):
        self.signum, self.abandoned = signum, abandoned
        how = "epoch abandoned" if abandoned else "after the epoch's checkpoint"
        super().__init__(f"stopped by {signal.Signals(signum).name} ({how})")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def reason(self) -> str:
        return REASONS.get(self.signum, signal.Signals(self.signum).name)


_requested: int | None = None


def requested() -> int | None:
    """The signal that asked this process to stop, or None."""
    return _requested


def check() -> None:
    """Raise ``Stopped`` if a stop was asked for (call it where the training may stop cleanly: after a save)."""
    if _requested is not None:
        raise Stopped(_requested, abandoned=False)


def grace_s() -> float:
    text = os.environ.get(GRACE_ENV, "")
    try:
        return float(text) if text else DEFAULT_GRACE_S
    except ValueError:
        from ..errors import UserError

        raise UserError(f"{GRACE_ENV}={text!r} is not a number of seconds", key=GRACE_ENV,
                        allowed="a number >= 0") from None


@contextlib.contextmanager
def stop_requests(grace: float | None = None) -> Iterator[None]:
    """Catch SIGTERM / SIGINT inside the block (main thread only; elsewhere the block runs unchanged)."""
    global _requested
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    grace = grace_s() if grace is None else grace

    def abandon(_signum: int, _frame) -> None:
        raise Stopped(_requested or signal.SIGTERM, abandoned=True)

    def ask(signum: int, _frame) -> None:
        global _requested
        if _requested is not None:  # a second signal: do not wait for the epoch
            raise Stopped(_requested, abandoned=True)
        _requested = signum
        # a print, not logging: this is a signal handler, and logging takes locks the interrupted code may hold
        print(f"{signal.Signals(signum).name}: stopping after this epoch's checkpoint, or in {grace:g} s",
              flush=True)
        signal.signal(signal.SIGALRM, abandon)
        signal.setitimer(signal.ITIMER_REAL, max(grace, 0.001))

    saved = {s: signal.signal(s, ask) for s in SIGNALS}
    saved_alarm = signal.getsignal(signal.SIGALRM)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, saved_alarm)
        for s, handler in saved.items():
            signal.signal(s, handler)
        _requested = None


def stop_at_epoch_end(trainer) -> None:
    """An ``on_fit_epoch_end`` callback: the epoch's checkpoint is saved by then."""
    check()
