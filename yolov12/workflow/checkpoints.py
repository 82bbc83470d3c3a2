"""Checkpoints on disk are always whole, and a resume starts from the newest whole one.

Ultralytics' trainer writes ``last.pt`` / ``best.pt`` / ``epoch<N>.pt`` in place (``Path.write_bytes``) and strips
the optimizer at the end with ``torch.save`` onto the same file: a kill in that window (preemption, OOM, kill -9)
leaves a truncated file, and the resume then crashes on it. In our jobs every checkpoint write goes to a temporary
file in the same folder, is flushed to disk, and is renamed into place (``os.replace`` is atomic): the target holds
either its old content or the whole new one. ``resume_point`` picks what a retry continues from.

Light on import (torch only inside functions): the trainer mixin imports this in every DDP worker.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from ..io import atomic_path


def _write(f, data: bytes) -> None:
    f.write(data)  # one place where a fault-injection test can interrupt a checkpoint write (tests/failpoints.py)


def write_checkpoint(path: str | Path, data: bytes) -> None:
    """Whole or not at all: write ``data`` beside ``path``, flush it to disk, rename it into place."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            _write(f, data)
            f.flush()
            os.fsync(f.fileno())


class CheckpointPath(type(Path())):
    """A path whose ``write_bytes`` is ``write_checkpoint``: Ultralytics' ``save_model`` writes through it unchanged.

    ``path / name`` keeps the class, so ``wdir / f"epoch{n}.pt"`` is atomic too."""

    def write_bytes(self, data) -> int:
        write_checkpoint(self, bytes(data))
        return len(data)


def strip_optimizer_atomic(f: str | Path = "best.pt", s: str = "", updates=None):
    """Ultralytics' ``strip_optimizer`` (the end-of-training rewrite of last.pt / best.pt), written beside the target,
    flushed and renamed into place instead of overwriting it."""
    from ultralytics.utils.torch_utils import strip_optimizer

    target = Path(s or f)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.strip.tmp")
    try:
        result = strip_optimizer(f, s=str(tmp), updates=updates)
        if tmp.exists():  # nothing is written for an invalid checkpoint (Ultralytics warns and returns {})
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        return result
    finally:
        tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------ reading
def checkpoint_state(path: Path) -> tuple[str, int]:
    """('interrupted' | 'finished', epochs completed) of a readable checkpoint; raises if it cannot be read.

    A finished checkpoint (optimizer stripped at the end of training) has no optimizer state and epoch -1."""
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict):
        raise ValueError("not an Ultralytics checkpoint (no dictionary)")
    done = int(ckpt.get("epoch", -1)) + 1
    return ("interrupted" if ckpt.get("optimizer") is not None and done > 0 else "finished"), done


@dataclasses.dataclass
class ResumePoint:
    state: str  # 'missing' (start from nothing) | 'interrupted' (resume from ``path``) | 'finished'
    epochs: int  # epochs the checkpoint holds (interrupted); 0 otherwise
    path: Path | None
    notes: list[str]  # why a checkpoint was passed over (recorded in attempts.json)


def _epoch_number(path: Path) -> int:
    m = re.fullmatch(r"epoch(\d+)\.pt", path.name)
    return int(m.group(1)) if m else -1


def resume_point(weights: Path) -> ResumePoint:
    """The newest whole checkpoint of a run: ``last.pt`` when it reads, else the newest readable of ``best.pt`` and
    ``epoch<N>.pt`` (a truncated file from a writer that was not atomic, a disk fault), else a clean start."""
    for tmp in weights.glob(".*.tmp"):  # a write that a kill interrupted before its rename: never a checkpoint
        tmp.unlink(missing_ok=True)
    candidates = [weights / "last.pt", weights / "best.pt",
                  *sorted(weights.glob("epoch*.pt"), key=_epoch_number, reverse=True)]
    notes: list[str] = []
    whole: list[tuple[Path, str, int]] = []
    for path in candidates:
        if not path.is_file():
            continue
        try:
            state, done = checkpoint_state(path)
        except Exception as e:  # noqa: BLE001  (any failure to read is 'not whole')
            first = (str(e).strip().splitlines() or [""])[0][:160]
            notes.append(f"{path.name} unreadable ({type(e).__name__}: {first}): passed over")
            continue
        whole.append((path, state, done))
    if any(state == "finished" for _, state, _ in whole):  # only the end of training strips a checkpoint
        path = next(p for p, state, _ in whole if state == "finished")
        return ResumePoint("finished", 0, path, notes)
    if whole:
        path, _, done = max(whole, key=lambda w: w[2])  # the most epochs; last.pt first on a tie
        if path.name != "last.pt" and notes:
            notes.append(f"resuming from {path.name} (epoch {done})")
        return ResumePoint("interrupted", done, path, notes)
    if notes:
        notes.append("no whole checkpoint: the training restarts from nothing")
    return ResumePoint("missing", 0, None, notes)
