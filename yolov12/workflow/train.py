"""Train job: one Ultralytics training per run directory, on exactly the devices the job holds.

- **Divergence is a file, not an exception.** The guard (a training callback) writes ``diverged.json`` in the run
  directory before it stops the run. With several devices Ultralytics trains in worker processes, and an exception
  raised there reaches the job only as a failed subprocess; the job therefore never relies on the exception: after
  training it reads the marker, and a marked run is recorded as *not converged* with its epoch (paper Table 2).
- **Every epoch exactly once.** Checkpoints are written whole or not at all (``yolov12.workflow.checkpoints``), and a
  run resumes from the newest whole one: ``last.pt``, else ``best.pt`` / ``epoch<N>.pt`` when ``last.pt`` cannot be
  read, else from nothing (``attempts.json`` says which and why). Rows of ``results.csv`` after the epoch resumed
  from (a kill between Ultralytics' two writes, a fallback to an older checkpoint) are cut and trained again; the
  MLflow run is the same one across attempts (its id is kept in the run directory) and each epoch is logged once,
  when its checkpoint exists; a run that had logged a cut epoch is superseded by a new one (MLflow cannot delete a
  step). ``attempts.json`` keeps each attempt's wall time, so ``seconds`` covers all of them.
- **One writer.** The training holds the run directory (``yolov12.workflow.runlock``): a retry waits for, then stops,
  any process of an earlier attempt still training there.
- Our trainer classes carry the guard and the epoch logger into DDP workers (Ultralytics pickles the trainer class
  and its callbacks for them) and scope the offline AMP check to the training.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from ..io import write_json, write_text
from . import slurm_states, tracking
from .checkpoints import ResumePoint, resume_point
from .guard import GUARD_ENV, OPTIMIZER_FILE, EpochLogger, unvalidated, validated_file
from .jobs import MODEL_KEYS
from .runlock import sole_writer
from .stop import Stopped, stop_requests

log = logging.getLogger(__name__)

MARKER = "diverged.json"


def trainer_class(task: str):
    from ..registry import task as task_row

    return task_row(task).resolve("trainer")


# ------------------------------------------------------------------------------------------------ bookkeeping
def read_rows(results_csv: Path) -> list[dict[str, float]]:
    if not results_csv.is_file():
        return []
    import pandas as pd

    df = pd.read_csv(results_csv)
    df.columns = [c.strip() for c in df.columns]
    return df.to_dict("records")


def keep_epochs(results_csv: Path, upto: int) -> None:
    """Cut rows of epochs after ``upto`` (trained, but their checkpoint never written): they are trained again."""
    if not results_csv.is_file():
        return
    lines = results_csv.read_text().splitlines(keepends=True)
    kept = lines[:1] + [ln for ln in lines[1:] if ln.strip() and float(ln.split(",", 1)[0]) <= upto]
    if kept != lines:
        write_text(results_csv, "".join(kept))


def start_attempt(run_dir: Path, **info: Any) -> None:
    """Record an attempt as it starts (with ``info``: what it resumed from and why). An attempt still 'running' from
    before was killed (kill -9, preemption, a node failure): it is closed with the time up to its last output."""
    path = run_dir / "attempts.json"
    attempts = json.loads(path.read_text()) if path.is_file() else []
    for a in attempts:
        if a["outcome"] == "running":
            outputs = [p for p in (run_dir / "train" / "weights" / "last.pt", run_dir / "train" / "results.csv")
                       if p.is_file()]
            last = max((p.stat().st_mtime for p in outputs), default=a["started"])
            a.update(outcome="killed", reason="killed", seconds=round(max(0.0, last - a["started"]), 1), ended=last)
        if a.get("slurm_job") and a["outcome"] in ("killed", "stopped") and not a.get("reason_from_slurm"):
            # why SLURM ended it (cancelled, preempted, time limit, node failure...), known once it has ended
            why = slurm_states.attempt_reason(a["slurm_job"])
            if why:
                a.update(reason=why, reason_from_slurm=True)
    info.setdefault("slurm_job", os.environ.get("SLURM_JOB_ID"))  # sacct tells the next attempt why this one ended
    attempts.append({"started": time.time(), "outcome": "running", "seconds": None, "pid": os.getpid(),
                     **{k: v for k, v in info.items() if v not in (None, [])}})
    write_json(path, attempts, indent=1)


def end_attempt(run_dir: Path, seconds: float, outcome: str, **why: Any) -> list[dict[str, Any]]:
    path = run_dir / "attempts.json"
    attempts = json.loads(path.read_text())
    ours = [a for a in attempts if a.get("pid") == os.getpid() and a["outcome"] == "running"] or attempts[-1:]
    if outcome.startswith("failed"):
        why.setdefault("reason", "failed")
    ours[-1].update(seconds=round(seconds, 1), outcome=outcome, ended=time.time(), **why)
    write_json(path, attempts, indent=1)
    return attempts


# ------------------------------------------------------------------------------------------------ the job
def run_train(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    run_dir = Path(spec["run_dir"]).resolve()
    try:
        with sole_writer(run_dir) as lock_notes, stop_requests():  # never beside a process of an earlier attempt
            return _run_train(spec, run_dir, lock_notes)
    except Stopped as e:  # recorded in attempts.json; 128 + signal: Snakemake resubmits, the retry resumes
        log.warning("train: %s", e)
        raise SystemExit(e.exit_code) from None


def _run_train(spec: dict[str, Any], run_dir: Path, lock_notes: list[str]) -> dict[str, Any]:
    train_dir = run_dir / "train"
    csv, marker = train_dir / "results.csv", run_dir / MARKER
    point = resume_point(train_dir / "weights")
    job = tracking.JobRun(spec["mlflow"]["uri"], Path(spec["run_dir"]).parents[1], spec["config"],
                          f"train:{run_dir.name}", tracking.common_tags("train", spec), run_dir / "train.mlflow_run")
    job.start()
    logger = EpochLogger(job.uri, job.run_id, str(run_dir / "train.mlflow_epochs"))
    params = {**{k: spec["model"][k] for k in MODEL_KEYS}, **{f"knob.{k}": v for k, v in spec["model"]["knobs"].items()},
              **{f"train.{k}": v for k, v in spec["args"].items()}, "data": spec["data"], "max_loss": spec["max_loss"]}
    t0, outcome = time.perf_counter(), "failed"
    start_attempt(run_dir, resumed_from=point.path.name if point.state == "interrupted" else None,
                  resumed_epoch=point.epochs or None, notes=lock_notes + point.notes)
    try:
        if not marker.exists() and point.state != "finished":
            job, logger = _continue_from(point, train_dir, job, logger)
        job.log_params(params)
        if point.state != "finished" and not marker.exists():
            _train(spec, run_dir, point.path if point.state == "interrupted" else None, job, logger)
        outcome = "ok"
    except Stopped as e:  # SIGTERM / SIGINT (yolov12.workflow.stop): the last whole checkpoint is kept
        end_attempt(run_dir, time.perf_counter() - t0, "stopped", reason=e.reason, signal=e.signum,
                    epoch_abandoned=e.abandoned)
        job.end(False, str(e))
        raise
    except Exception as e:  # noqa: BLE001  (a diverged run is a result; anything else fails the job)
        if not marker.exists():
            end_attempt(run_dir, time.perf_counter() - t0, f"failed: {type(e).__name__}")
            job.end(False, f"{type(e).__name__}: {e}")
            raise
    attempts = end_attempt(run_dir, time.perf_counter() - t0, "diverged" if marker.exists() else outcome)
    result = collect(spec, run_dir, attempts)
    result["mlflow_run_id"] = job.run_id
    job.log_metrics({"converged": float(result["converged"]), "train_seconds": result["seconds"],
                     **({"diverged_epoch": result["diverged_epoch"]} if result["diverged_epoch"] else {})},
                    step=result["epochs_done"])
    job.log_artifacts([csv, train_dir / "results.png", train_dir / "args.yaml", marker,
                       train_dir / "weights" / "best.pt"])  # the trained model itself
    job.end(True)
    return result


def _continue_from(point: ResumePoint, train_dir: Path, job: tracking.JobRun,
                   logger: EpochLogger) -> tuple[tracking.JobRun, EpochLogger]:
    """Make the run directory, the curves and the MLflow run hold exactly the epochs of the checkpoint the training
    continues from: later rows are cut from results.csv (they are trained again), and an MLflow run that already
    logged a cut epoch is superseded by a new one that re-logs the kept epochs (MLflow cannot delete a metric step)."""
    csv = train_dir / "results.csv"
    if point.state == "missing":  # a fresh start: nothing of an attempt that saved no whole epoch
        for stale in (csv, train_dir / "weights" / "best.pt", train_dir / "weights" / "last.pt"):
            stale.unlink(missing_ok=True)
    keep_epochs(csv, point.epochs)
    validated = validated_file(logger.logged_file)
    checked = {e for e in (json.loads(validated.read_text()) if validated.is_file() else []) if e <= point.epochs}
    write_json(validated, sorted(checked))
    if logger.last_logged() > point.epochs:
        job.supersede(f"epochs after {point.epochs} were cut: the training continues from "
                      f"{point.path.name if point.path else 'nothing'}")
        Path(logger.logged_file).unlink(missing_ok=True)
        logger = EpochLogger(job.uri, job.run_id, logger.logged_file)
    for row in read_rows(csv):  # epochs checkpointed by an attempt killed before it logged them
        epoch = int(row["epoch"])
        logger.log_row(epoch, row if epoch in checked else unvalidated(row))
    return job, logger


def _train(spec: dict[str, Any], run_dir: Path, resume_from: Path | None, job, logger: EpochLogger) -> None:
    from ultralytics import YOLO

    from .. import models

    guard = {"max_loss": spec["max_loss"], "marker": str(run_dir / MARKER), "uri": job.uri, "run_id": job.run_id,
             "logged_file": logger.logged_file, "run_dir": str(run_dir)}
    os.environ[GUARD_ENV] = json.dumps(guard)  # DDP workers inherit it
    task = spec["model"]["task"]
    if resume_from is not None:
        log.info("resuming from %s", resume_from)
        YOLO(str(resume_from)).train(resume=True, trainer=trainer_class(task))
        return
    model = models.build(**{k: spec["model"][k] for k in MODEL_KEYS}, nc=spec["model"]["nc"], **spec["model"]["knobs"])
    model.train(**spec["args"], data=spec["data"], project=str(run_dir), name="train", exist_ok=True, verbose=True,
                trainer=trainer_class(task))


def weights_record(path: Path, run_dir: Path) -> dict[str, Any]:
    """What the workflow checks the weights against at its next invocation (size, mtime: cheap at every parse) and
    what every result that used them records (the checksum)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    st = path.stat()
    return {"path": str(path.relative_to(run_dir)), "sha256": h.hexdigest(), "bytes": st.st_size,
            "mtime_ns": st.st_mtime_ns}


def collect(spec: dict[str, Any], run_dir: Path, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    train_dir = run_dir / "train"
    marker = run_dir / MARKER
    rows = read_rows(train_dir / "results.csv")
    best = train_dir / "weights" / "best.pt"
    epochs = [int(r["epoch"]) for r in rows]
    if len(set(epochs)) != len(epochs):  # never report a repeated epoch as two
        raise RuntimeError(f"{train_dir / 'results.csv'}: epochs {epochs} repeat")
    result: dict[str, Any] = {"converged": True, "diverged_epoch": None, "reason": None}
    if marker.exists():
        d = json.loads(marker.read_text())
        result.update(converged=False, diverged_epoch=d["epoch"], reason=d["reason"])
    result.update(seconds=round(sum(a["seconds"] for a in attempts), 1), attempts=len(attempts),
                  epochs_done=len(rows), epochs=spec["args"]["epochs"], seed=spec["args"]["seed"],
                  best=str(best) if best.is_file() and result["converged"] else None,
                  results_csv=str(train_dir / "results.csv"))
    if len(rows) > spec["args"]["epochs"] or (result["converged"] and not rows):
        raise RuntimeError(f"{train_dir / 'results.csv'} holds {len(rows)} epochs, the spec asks for "
                           f"{spec['args']['epochs']}: refusing it as a result")
    result["stopped_early"] = result["converged"] and len(rows) < spec["args"]["epochs"]  # Ultralytics' patience
    result["weights"] = weights_record(best, run_dir) if result["best"] else None
    validated = validated_file(run_dir / "train.mlflow_epochs")
    result["validated_epochs"] = json.loads(validated.read_text()) if validated.is_file() else None
    ran = run_dir / OPTIMIZER_FILE  # what trained (optimizer: auto picks its own), not what was asked for
    result["optimizer"] = json.loads(ran.read_text()) if ran.is_file() else None
    return result
