"""MLflow tracking for workflow jobs: every train, evaluate, complexity, latency and export job is one MLflow run.

Store: ``MLFLOW_TRACKING_URI`` if set (e.g. a shared server), otherwise a SQLite file under
``results/<config>/mlflow/`` with an absolute URI, so ``mlflow ui --backend-store-uri <uri>`` browses it from
anywhere. SQLite's schema is created once by ``init_store`` (the workflow's first job) because parallel first
writers race on schema creation; experiments (one per study) are created there too.
"""

from __future__ import annotations

import math
import os
import random
import re
import time
from pathlib import Path
from typing import Any

RETRIES = 8


def tracking_uri(results_dir: str | Path) -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path(results_dir).resolve() / 'mlflow' / 'mlflow.db'}"


def artifact_root(results_dir: str | Path) -> str:
    return (Path(results_dir).resolve() / "mlflow" / "artifacts").as_uri()


def experiment_name(config_name: str, study: str) -> str:
    return f"{config_name}/{study}"


def client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def retry(fn, *args, **kwargs):
    """SQLite answers 'database is locked' to concurrent writers; back off and try again."""
    for attempt in range(RETRIES):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # mlflow wraps sqlalchemy's OperationalError in MlflowException
            if "locked" not in str(e).lower() or attempt == RETRIES - 1:
                raise
            time.sleep(0.1 * 2**attempt * (1 + random.random()))


def init_store(results_dir: str | Path, config_name: str, studies: list[str]) -> str:
    """Create the store's schema and one experiment per study; return the tracking URI."""
    uri = tracking_uri(results_dir)
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    c = client(uri)
    for study in studies:
        name = experiment_name(config_name, study)
        if c.get_experiment_by_name(name) is None:
            location = None if os.environ.get("MLFLOW_TRACKING_URI") else f"{artifact_root(results_dir)}/{study}"
            retry(c.create_experiment, name, artifact_location=location)
    return uri


def metric_name(key: str) -> str:
    """MLflow allows letters, digits, _ - . space : / in names; Ultralytics' keys carry parentheses."""
    return re.sub(r"[^A-Za-z0-9_\-. :/]", "_", key).rstrip("_")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def log_run(uri: str, experiment: str, run_name: str, params: dict[str, Any], metrics: dict[str, float],
            tags: dict[str, str], curves: list[dict[str, float]] | None = None,
            artifacts: list[str | Path] | None = None) -> str:
    """One finished MLflow run with params, final metrics, per-epoch curves (step = epoch) and artifacts."""
    from mlflow.entities import Metric, Param

    c = client(uri)
    exp = c.get_experiment_by_name(experiment) or c.get_experiment(retry(c.create_experiment, experiment))
    run = retry(c.create_run, exp.experiment_id, run_name=run_name, tags={k: str(v) for k, v in tags.items()})
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    batch_metrics = [Metric(metric_name(k), float(v), now, 0) for k, v in metrics.items() if _finite(v)]
    for row in curves or []:
        step = int(row.get("epoch", 0))
        batch_metrics += [Metric(metric_name(k), float(v), now, step)
                          for k, v in row.items() if k != "epoch" and _finite(v)]
    params_list = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
    for i in range(0, len(params_list), 90):  # MLflow takes at most 100 params / 1000 metrics per batch
        retry(c.log_batch, run_id, params=params_list[i:i + 90])
    for i in range(0, len(batch_metrics), 900):
        retry(c.log_batch, run_id, metrics=batch_metrics[i:i + 900])
    for path in artifacts or []:
        if Path(path).is_file():
            retry(c.log_artifact, run_id, str(path))
    retry(c.set_terminated, run_id, "FINISHED")
    return run_id
