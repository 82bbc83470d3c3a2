"""One progress line per training epoch on the console of the person who started the workflow.

A job's stdout and stderr go to its log file, so the line goes to the controlling terminal (``/dev/tty``, which
Snakemake's local jobs share with it) instead; only when the workflow's own output was a terminal (the parse sets
``YOLOV12_PROGRESS_TTY=1``, jobs inherit it) and only from the main process (rank 0). Without a terminal (CI,
SLURM, output to a file) nothing is written. A failure to write is ignored: progress is a courtesy, not a result.
"""

from __future__ import annotations

import os
import time

ENV = "YOLOV12_PROGRESS_TTY"


def enabled() -> bool:
    return os.environ.get(ENV) == "1" and os.environ.get("RANK", "-1") in ("-1", "0")


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class ProgressLine:
    """``on_fit_epoch_end`` callback: ``[train <run>] epoch k/N  loss x  ETA m:ss`` (ETA from the mean epoch)."""

    def __init__(self, name: str):
        self.name, self.start, self.first = name, time.monotonic(), None

    def __call__(self, trainer) -> None:
        try:
            self._show(trainer)
        except Exception:  # noqa: BLE001 - a progress line must never stop a training
            pass

    def _show(self, trainer) -> None:
        done, total = trainer.epoch + 1, trainer.epochs
        if done > total:  # the final validation after the last epoch
            return
        if self.first is None:  # epochs run in this process (a resumed run starts mid-way)
            self.first = done - 1
        elapsed = time.monotonic() - self.start
        eta = elapsed / max(done - self.first, 1) * (total - done)
        loss = getattr(trainer, "tloss", None)  # the epoch's mean losses: a tensor, or a dict of them
        values = list(loss.values()) if isinstance(loss, dict) else [loss] if loss is not None else []
        loss_text = f"{sum(float(v.sum()) for v in values):.3f}" if values else "-"
        line = f"[train {self.name}] epoch {done}/{total}  loss {loss_text}  ETA {_clock(eta)}\n"
        try:
            with open("/dev/tty", "w") as tty:
                tty.write(line)
        except OSError:
            pass
