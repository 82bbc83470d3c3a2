"""What every training of the suite carries into each of its processes (the launcher and each DDP worker):
the divergence guard (it writes the marker file before it stops the run), the per-epoch MLflow logger (each epoch
logged once, live), and the trainer mixin that installs both and scopes the offline AMP check to the training.
Ultralytics pickles the trainer class and its callbacks for DDP workers: everything here is importable by
reference and light on import.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from ..io import write_json, write_text
from . import tracking

log = logging.getLogger(__name__)

GUARD_ENV = "YOLOV12_TRAIN_GUARD"  # JSON: what our trainer classes need in every process of a training
FORCE_CHILD_ENV = "YOLOV12_TRAIN_IN_CHILD"  # 1: train through Ultralytics' DDP launcher even on one device/CPU


class Diverged(RuntimeError):
    def __init__(self, epoch: int, loss: float, reason: str):
        super().__init__(f"training diverged in epoch {epoch}: {reason} (mean loss {loss})")
        self.epoch, self.loss, self.reason = epoch, loss, reason


class DivergenceGuard:
    """Stops a run at the first NaN/inf or exploded mean loss (Ultralytics would 'recover' from NaN by reloading
    last.pt and hide the divergence); records it in ``marker`` first, so any process of a DDP run can report it."""

    def __init__(self, max_loss: float, marker: str | None = None):
        self.max_loss, self.marker = max_loss, marker

    def __call__(self, trainer) -> None:
        if trainer.tloss is None:
            return
        values = trainer.tloss.values() if isinstance(trainer.tloss, dict) else trainer.tloss
        total = float(sum(float(v) for v in values)) if hasattr(values, "__iter__") else float(values)
        loss = float(trainer.loss.detach().float().sum()) if trainer.loss is not None else total
        epoch = trainer.epoch + 1
        if not (math.isfinite(total) and math.isfinite(loss)):
            self.stop(epoch, total, "loss is NaN/inf")
        if total > self.max_loss:
            self.stop(epoch, total, f"mean loss above max_loss={self.max_loss}")

    def stop(self, epoch: int, loss: float, reason: str):
        if self.marker and not Path(self.marker).exists():
            write_json(self.marker, {"epoch": epoch, "loss": loss if math.isfinite(loss) else str(loss),
                                     "reason": reason, "pid": os.getpid()})
        raise Diverged(epoch, loss, reason)


class EpochLogger:
    """Logs each finished epoch (checkpoint saved) to the job's MLflow run, once: a training is live in MLflow."""

    def __init__(self, uri: str, run_id: str, logged_file: str):
        self.uri, self.run_id, self.logged_file = uri, run_id, logged_file
        self._seen_metrics = None

    def start(self, trainer) -> None:
        """At the start of an attempt: Ultralytics' metrics are a placeholder of zeros until the first validation,
        so an epoch that still shows this very dict was not validated; and the optimizer that was actually built
        (``optimizer: auto`` picks its own, with another learning rate than ``lr0``) is recorded."""
        from ultralytics.utils import RANK

        self._seen_metrics = trainer.metrics
        if RANK in (-1, 0) and trainer.optimizer is not None:
            ran = optimizer_record(trainer.optimizer)
            write_json(Path(self.logged_file).with_name(OPTIMIZER_FILE), ran)
            try:
                tracking.log_params(self.uri, self.run_id, {f"ran.{k}": v for k, v in ran.items()})
            except Exception as e:  # noqa: BLE001  (a resumed run has them already; the file is the record)
                log.warning("optimizer params not logged to MLflow: %s", e)

    def last_logged(self) -> int:
        p = Path(self.logged_file)
        return int(p.read_text()) if p.is_file() else 0

    def log_row(self, epoch: int, row: dict[str, Any]) -> None:
        if epoch <= self.last_logged():
            return
        tracking.log_metrics(self.uri, self.run_id, {k: v for k, v in row.items() if k not in ("epoch", "time")},
                             step=epoch)
        write_text(self.logged_file, f"{epoch}\n")

    def __call__(self, trainer) -> None:
        from ultralytics.utils import RANK

        if RANK not in (-1, 0):
            return
        if trainer.epoch + 1 > trainer.epochs:  # the final validation of best.pt, after the last epoch
            tracking.log_metrics(self.uri, self.run_id, {f"best/{k}": v for k, v in (trainer.metrics or {}).items()},
                                 step=trainer.epochs)
            return
        validated = trainer.metrics is not self._seen_metrics  # Ultralytics makes a new dict per validation
        self._seen_metrics = trainer.metrics
        metrics = {**trainer.label_loss_items(trainer.tloss, prefix="train"), **(trainer.lr or {}),
                   **((trainer.metrics or {}) if validated else {})}  # an unvalidated epoch has no val metrics
        if validated:
            mark_validated(self.logged_file, trainer.epoch + 1)
        self.log_row(trainer.epoch + 1, metrics)


OPTIMIZER_FILE = "optimizer.json"  # in the run directory: the optimizer the training actually ran


def optimizer_record(optimizer) -> dict[str, Any]:
    """Name, initial learning rate, momentum and weight decay of the optimizer that trains (its 'weight' group:
    Ultralytics scales the decay by batch x accumulate / nbs)."""
    groups = optimizer.param_groups
    weight = next((g for g in groups if g.get("param_group") == "weight"), groups[0])
    momentum = weight.get("momentum", (weight.get("betas") or (None,))[0])
    return {"optimizer": type(optimizer).__name__, "lr0": float(weight.get("initial_lr", weight["lr"])),
            "momentum": None if momentum is None else float(momentum),
            "weight_decay": float(weight.get("weight_decay", 0.0)), "nesterov": bool(weight.get("nesterov", False))}


def validated_file(logged_file: str | Path) -> Path:
    return Path(str(logged_file) + ".validated")


def mark_validated(logged_file: str | Path, epoch: int) -> None:
    """Which epochs were validated (Ultralytics repeats stale or zero metrics for the others in results.csv)."""
    path = validated_file(logged_file)
    epochs = set(json.loads(path.read_text())) if path.is_file() else set()
    write_json(path, sorted(epochs | {epoch}))


def unvalidated(row: dict[str, Any]) -> dict[str, Any]:
    """A results.csv row without the validation columns Ultralytics repeats for epochs it did not validate."""
    return {k: v for k, v in row.items() if not k.startswith(("metrics/", "val/"))}


def _guard_settings() -> dict[str, Any] | None:
    text = os.environ.get(GUARD_ENV)
    return json.loads(text) if text else None


class SuiteTrainerMixin:
    """What every training of the suite does, in the launching process and in each DDP worker."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = _guard_settings()
        if settings:
            have = {type(f).__name__ for fs in self.callbacks.values() for f in fs}
            if "DivergenceGuard" not in have:
                self.add_callback("on_train_batch_end", DivergenceGuard(settings["max_loss"], settings["marker"]))
            if "EpochLogger" not in have and settings.get("run_id"):
                logger = EpochLogger(settings["uri"], settings["run_id"], settings["logged_file"])
                self.add_callback("on_train_start", logger.start)
                self.add_callback("on_fit_epoch_end", logger)
            from .stop import stop_at_epoch_end  # after the logger: a stop keeps the epoch's MLflow record

            if stop_at_epoch_end not in self.callbacks["on_fit_epoch_end"]:
                self.add_callback("on_fit_epoch_end", stop_at_epoch_end)
            from . import progress

            if "ProgressLine" not in have and progress.enabled():  # the console line (jobs' output is their log)
                name = os.path.basename(str(settings.get("run_dir") or "")) or "run"
                self.add_callback("on_fit_epoch_end", progress.ProgressLine(name))
            if settings.get("run_dir") and "LOCAL_RANK" in os.environ:  # a DDP worker: the folder is in use
                from .runlock import hold_as_worker

                hold_as_worker(settings["run_dir"])
        # torch.distributed.run sets LOCAL_RANK in its workers (Ultralytics' own LOCAL_RANK reads -1 when the world
        # has one process, so it cannot tell a one-process launch from the launcher)
        if os.environ.get(FORCE_CHILD_ENV) == "1" and "LOCAL_RANK" not in os.environ:
            self.ddp, self.world_size = True, max(self.world_size, 1)  # the multi-device launcher, one process

    def save_model(self):
        """Ultralytics' save_model, each checkpoint written whole or not at all (yolov12.workflow.checkpoints)."""
        from .checkpoints import CheckpointPath

        self.wdir, self.last, self.best = (CheckpointPath(p) for p in (self.wdir, self.last, self.best))
        return super().save_model()

    def final_eval(self):
        """Ultralytics' final_eval, whose optimizer stripping rewrites last.pt / best.pt atomically."""
        from ultralytics.engine import trainer as engine

        from .checkpoints import strip_optimizer_atomic

        saved = engine.strip_optimizer
        engine.strip_optimizer = strip_optimizer_atomic  # only inside our trainer's own final evaluation
        try:
            return super().final_eval()
        finally:
            engine.strip_optimizer = saved

    def _setup_train(self, *args, **kwargs):
        from ultralytics.engine import trainer as engine

        from ..offline import local_amp_check

        saved = engine.check_amp
        engine.check_amp = local_amp_check  # Ultralytics' check downloads a model; ours compares on this model
        try:
            return super()._setup_train(*args, **kwargs)
        finally:
            engine.check_amp = saved
