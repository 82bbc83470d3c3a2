"""MLflow tracking: every job is one MLflow run, live while it works; every (study, variant, scale) gets a summary
run in its study's experiment.

- Store: the config's ``mlflow.tracking_uri``, else ``MLFLOW_TRACKING_URI``, else a SQLite file under
  ``results/<config>/mlflow/`` (one machine only: many nodes need a tracking server backed by PostgreSQL,
  docs/cluster.md). SQLite's schema is created once, before the jobs, by ``init_store``.
- Job runs live in the experiment ``<config>/jobs``. A job's run is created when the job starts (real start time,
  status RUNNING), its id kept in the run directory, so a retried or resumed job continues the SAME run; it ends
  FINISHED or FAILED with the real end time. Metrics carry their real timestamps (a training logs each epoch as it
  ends).
- Summary runs: the aggregation writes one run per (study, variant, scale) into EVERY study experiment that uses
  the run directory (``<config>/<study>``), with the results, the hardware and the job runs' ids as tags.
- The commit goes in ``mlflow.source.git.commit`` (MLflow's Version column).
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path
from typing import Any

from ..retry import call, caused_by, exponential

RETRIES = 10
JOBS_EXPERIMENT = "jobs"
# the digest of the job's identity (docs/identity.md): a job rerun in its folder for another identity (a latency
# setting changed) supersedes its earlier run, which is tagged with why and by which run, and soft-deleted
IDENTITY_TAG = "yolov12.identity"


def tracking_uri(results_dir: str | Path, configured: str | None = None) -> str:
    if configured:
        return configured
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path(results_dir).resolve() / 'mlflow' / 'mlflow.db'}"


def experiment_name(config_name: str, study: str) -> str:
    return f"{config_name}/{study}"


def client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def store_is_busy(error: BaseException) -> bool:
    """A passing failure of the MLflow store, by type: SQLite's 'database is locked' to concurrent writers
    (SQLAlchemy's / sqlite3's OperationalError; MLflow wraps it as TEMPORARILY_UNAVAILABLE), a dropped or timed-out
    connection to a server, or a server answering 503 / 504 once MLflow's own HTTP retries (502 included) gave up."""
    import sqlite3

    import requests
    import sqlalchemy.exc
    from mlflow.exceptions import MlflowException

    passing = (sqlite3.OperationalError, sqlalchemy.exc.OperationalError, ConnectionError, TimeoutError,
               requests.exceptions.ConnectionError, requests.exceptions.Timeout)
    if caused_by(error, passing) is not None:
        return True
    wrapped = caused_by(error, (MlflowException,))
    return wrapped is not None and wrapped.get_http_status_code() in (503, 504)


def retry(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` against the store, backing off (0.1 s doubling to 6.4 s, jittered) while the store is
    busy (``store_is_busy``), up to RETRIES attempts."""
    return call(fn, *args, attempts=RETRIES, transient=store_is_busy, wait=exponential(0.1, 6.4, jitter=True),
                **kwargs)


def artifact_location(uri: str, results_dir: str | Path, experiment: str) -> str | None:
    """Beside the SQLite store; a server chooses its own (None)."""
    if not uri.startswith("sqlite:"):
        return None
    return (Path(results_dir).resolve() / "mlflow" / "artifacts" / experiment.replace("/", "_")).as_uri()


def experiment_id(c, name: str, location: str | None = None) -> str:
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    try:
        return retry(c.create_experiment, name, artifact_location=location)
    except Exception:  # another job created it first
        exp = c.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def init_store(uri: str, results_dir: str | Path, config_name: str) -> str:
    """Create the SQLite schema (once, before parallel writers race on it) and the jobs experiment."""
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    name = experiment_name(config_name, JOBS_EXPERIMENT)
    experiment_id(client(uri), name, artifact_location(uri, results_dir, name))
    return uri


def metric_name(key: str) -> str:
    """MLflow allows letters, digits, _ - . space : / in names; Ultralytics' keys carry parentheses."""
    return re.sub(r"[^A-Za-z0-9_\-. :/]", "_", key).rstrip("_")


def finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def now_ms() -> int:
    return int(time.time() * 1000)


class JobRun:
    """One job's MLflow run, created at start and continued by a retry (its id lives in ``id_file``)."""

    def __init__(self, uri: str, results_dir: str | Path, config_name: str, run_name: str, tags: dict[str, Any],
                 id_file: str | Path | None = None):
        self.uri, self.results_dir, self.config_name = uri, results_dir, config_name
        self.run_name, self.tags, self.id_file = run_name, {k: str(v) for k, v in tags.items()}, id_file
        self.c = client(uri)
        self.run_id: str | None = None

    def start(self) -> str:
        from mlflow.entities import RunStatus

        name = experiment_name(self.config_name, JOBS_EXPERIMENT)
        exp = experiment_id(self.c, name, artifact_location(self.uri, self.results_dir, name))
        previous = Path(self.id_file).read_text().strip() if self.id_file and Path(self.id_file).is_file() else None
        if previous and self._exists(previous):
            self.run_id = previous
            held = self.c.get_run(previous).data.tags
            attempt = int(held.get("attempt", "1")) + 1
            retry(self.c.update_run, previous, status=RunStatus.to_string(RunStatus.RUNNING))
            retry(self.c.set_tag, previous, "attempt", str(attempt))
            if held.get(IDENTITY_TAG) != self.tags.get(IDENTITY_TAG):  # the job was rebuilt for another identity
                self.supersede(f"rebuilt for identity {self.tags.get(IDENTITY_TAG)} "
                               f"(was {held.get(IDENTITY_TAG)})")
        else:
            run = retry(self.c.create_run, exp, start_time=now_ms(), run_name=self.run_name,
                        tags={**self.tags, "attempt": "1"})
            self.run_id = run.info.run_id
            if self.id_file:
                from ..io import write_text

                write_text(self.id_file, self.run_id + "\n")
        return self.run_id

    def supersede(self, reason: str) -> str:
        """Replace this run by a new one with the same name and tags: the old run is tagged with why and by which
        run, and deleted (MLflow's soft delete: hidden from searches and the UI, ``MlflowClient.restore_run`` brings
        it back). The live run never holds a value that no longer belongs to the result."""
        old = self.c.get_run(self.run_id)
        tags = {**self.tags, "attempt": old.data.tags.get("attempt", "1"), "yolov12.supersedes": old.info.run_id}
        run = retry(self.c.create_run, old.info.experiment_id, start_time=now_ms(), run_name=self.run_name, tags=tags)
        for key, value in (("yolov12.superseded_by", run.info.run_id), ("yolov12.superseded_because", reason[:4000])):
            retry(self.c.set_tag, old.info.run_id, key, value)
        retry(self.c.set_terminated, old.info.run_id, "KILLED", now_ms())
        retry(self.c.delete_run, old.info.run_id)
        self.run_id = run.info.run_id
        if self.id_file:
            from ..io import write_text

            write_text(self.id_file, self.run_id + "\n")
        return self.run_id

    def _exists(self, run_id: str) -> bool:
        try:
            self.c.get_run(run_id)
            return True
        except Exception:  # a deleted store, another store
            return False

    def log_params(self, params: dict[str, Any]) -> None:
        log_params(self.uri, self.run_id, params)

    def log_metrics(self, metrics: dict[str, Any], step: int = 0) -> None:
        log_metrics(self.uri, self.run_id, metrics, step)

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(metric_name(k), str(v)[:5000]) for k, v in tags.items()]  # a model name may hold [=]
        if items:
            retry(self.c.log_batch, self.run_id, tags=items)

    def log_artifacts(self, paths) -> None:
        for path in paths or []:
            if path and Path(path).is_file():
                retry(self.c.log_artifact, self.run_id, str(path))

    def end(self, ok: bool, reason: str = "") -> None:
        if reason:
            self.set_tags({"failure": reason[:4000]})
        retry(self.c.set_terminated, self.run_id, "FINISHED" if ok else "FAILED", now_ms())


def log_metrics(uri: str, run_id: str, metrics: dict[str, Any], step: int = 0) -> None:
    """Metrics into an existing run (a training's epoch logger, from whichever process trains)."""
    from mlflow.entities import Metric

    ts = now_ms()
    items = [Metric(metric_name(k), float(v), ts, int(step)) for k, v in metrics.items() if finite(v)]
    for i in range(0, len(items), 900):
        retry(client(uri).log_batch, run_id, metrics=items[i:i + 900])


def log_params(uri: str, run_id: str, params: dict[str, Any]) -> None:
    """Params into an existing run (from whichever process trains); a key already there is left as it is."""
    from mlflow.entities import Param

    c = client(uri)
    existing = c.get_run(run_id).data.params
    items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items()) if k not in existing]
    for i in range(0, len(items), 90):  # MLflow takes at most 100 params per batch
        retry(c.log_batch, run_id, params=items[i:i + 90])


def log_report(uri: str, results_dir: str | Path, config_name: str, files: list[str | Path]) -> str:
    """The rendered report as artifacts of one run in the experiment ``<config>/report`` (replacing an older one)."""
    c = client(uri)
    name = experiment_name(config_name, "report")
    exp = experiment_id(c, name, artifact_location(uri, results_dir, name))
    for old in retry(c.search_runs, [exp], "tags.kind = 'report'"):
        retry(c.delete_run, old.info.run_id)
    from ..gitinfo import git_commit

    run = retry(c.create_run, exp, run_name=f"report:{config_name}", start_time=now_ms(),
                tags={"kind": "report", "config": config_name,
                      "mlflow.source.git.commit": os.environ.get("YOLOV12_GIT_COMMIT") or git_commit() or "unknown"})
    for f in files:
        if Path(f).is_file():
            retry(c.log_artifact, run.info.run_id, str(f))
    retry(c.set_terminated, run.info.run_id, "FINISHED", now_ms())
    return run.info.run_id


def common_tags(kind: str, spec: dict[str, Any]) -> dict[str, str]:
    """Tags of every job run: what it is, where it ran, which code ran it."""
    from ..gitinfo import git_commit
    from .hardware import hardware_tags

    from .identity import digest

    # a timing session holds several models: the tags say what they share (its scale), "several" where they differ
    models = [c["model"] for c in spec["cells"]] if spec.get("cells") else [spec["model"]]
    model = {k: (vals.pop() if len(vals := {str(m.get(k)) for m in models}) == 1 else "several")
             for k in ("scale", "task", "family", "hierarchy")}
    commit = os.environ.get("YOLOV12_GIT_COMMIT") or git_commit() or "unknown"
    ident = {IDENTITY_TAG: digest(spec["identity"])} if spec.get("identity") else {}
    return {**ident, "kind": kind, "run_dir": Path(spec["run_dir"]).name, "config": spec["config"], **model,
            "mlflow.source.git.commit": commit, "mlflow.source.name": "yolov12-suite", "mlflow.source.type": "JOB",
            **hardware_tags(spec)}
