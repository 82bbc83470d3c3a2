"""The train job for real: divergence through the multi-device launcher (a DDP worker process), a kill -9 in the
middle of a training resumed with every epoch exactly once and one MLflow run, and a failed job that leaves no
result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT
from workflow_helpers import write_tiny

STUDY = {"study": "tiny", "table": "T", "title": "t", "scales": ["n"], "measure": ["train"],
         "variants": {"base": {}, "diverge": {"train": {"max_loss": 0.01}}}}


def make_specs(tmp: Path, epochs: int = 1) -> tuple[dict, dict]:
    """The plan's real train specs for the tiny study, and the data they train on."""
    from yolov12.data import synth
    from yolov12.workflow import tracking
    from yolov12.workflow.plan import make_plan

    cfg = yaml.safe_load(write_tiny(tmp, STUDY).read_text())
    cfg["train"]["epochs"] = epochs
    cfg["train"]["recipe"]["val"] = False
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        plan = make_plan(cfg, "tiny.yaml", ROOT)
        synth.generate(plan.dataset("detect")["data"].rsplit("/", 1)[0],
                       synth.SynthSpec(task="detect", n_train=8, n_val=4, imgsz=64, nc=2, max_objects=2))
        tracking.init_store(plan.tracking_uri, plan.results, plan.name)
        specs = {r.variant: (plan.spec_json("train", r.run_dir), plan.result_path("train", r.run_dir))
                 for r in plan.runs}
    finally:
        os.chdir(cwd)
    return specs, cfg


def job(tmp: Path, spec: str, out: str, env_extra: dict | None = None, **kw) -> subprocess.Popen:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache"), "YOLOV12_NODE_LOCKS": str(tmp / "node"),
           **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "yolov12", "workflow", "run", "train", "--spec", spec, "--out",
                             out], cwd=tmp, env=env, start_new_session=True, **kw)


@pytest.mark.slow
def test_divergence_in_a_ddp_worker_is_recorded_not_raised(tmp_path):
    """Through Ultralytics' multi-device launcher (torch.distributed.run and its generated worker file, one worker
    on the CPU): the worker diverges and dies, the job sees only a failed subprocess, and records the divergence
    from the marker file. A healthy run through the same path converges."""
    specs, _ = make_specs(tmp_path)
    child = {"YOLOV12_TRAIN_IN_CHILD": "1"}
    procs = {v: job(tmp_path, spec, out, child, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for v, (spec, out) in specs.items()}
    logs = {v: p.communicate(timeout=900)[0] for v, p in procs.items()}
    for v, p in procs.items():
        assert p.returncode == 0, logs[v][-3000:]
        assert "torch.distributed.run" in logs[v]  # the multi-device launcher ran
    diverged = json.loads((tmp_path / specs["diverge"][1]).read_text())
    assert diverged["converged"] is False and diverged["diverged_epoch"] == 1
    assert "ChildFailedError" in logs["diverge"] or "CalledProcessError" in logs["diverge"]
    healthy = json.loads((tmp_path / specs["base"][1]).read_text())
    assert healthy["converged"] is True and healthy["epochs_done"] == 1 and healthy["best"]


@pytest.mark.slow
def test_kill_9_then_rerun_loses_and_repeats_no_epoch(tmp_path):
    from mlflow.tracking import MlflowClient

    specs, cfg = make_specs(tmp_path, epochs=4)
    spec, out = specs["base"]
    run_dir = tmp_path / json.loads(spec)["run_dir"]
    csv = run_dir / "train" / "results.csv"
    p = job(tmp_path, spec, out, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while not (csv.is_file() and len(pd.read_csv(csv)) >= 2):  # kill it in the middle of epoch 3
        assert p.poll() is None and time.monotonic() < deadline, "the training ended before it could be killed"
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not (tmp_path / out).exists()  # a killed job leaves no result
    rerun = job(tmp_path, spec, out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = rerun.communicate(timeout=900)[0]
    assert rerun.returncode == 0, log[-3000:]
    assert "resuming from" in log
    result = json.loads((tmp_path / out).read_text())
    epochs = pd.read_csv(csv)["epoch"].tolist()
    assert epochs == [1, 2, 3, 4] and result["epochs_done"] == 4 and result["attempts"] == 2
    attempts = json.loads((run_dir / "attempts.json").read_text())
    assert [a["outcome"] for a in attempts] == ["killed", "ok"] and attempts[0]["seconds"] > 0
    assert result["seconds"] == round(sum(a["seconds"] for a in attempts), 1)  # both attempts' time
    client = MlflowClient(json.loads(spec)["mlflow"]["uri"])
    runs = client.search_runs([client.get_experiment_by_name("tiny/jobs").experiment_id])
    assert len(runs) == 1 and runs[0].info.run_id == result["mlflow_run_id"]  # one run across both attempts
    steps = [m.step for m in client.get_metric_history(result["mlflow_run_id"], "train/box_loss")]
    assert sorted(steps) == [1, 2, 3, 4]  # every epoch logged exactly once


def test_results_csv_keeps_only_checkpointed_epochs(tmp_path):
    """The window between Ultralytics writing an epoch's row and its checkpoint: that row is cut, trained again."""
    from yolov12.workflow.train import keep_epochs

    csv = tmp_path / "results.csv"
    csv.write_text("epoch,time,train/box_loss\n1,1.0,0.5\n2,2.0,0.4\n3,3.0,0.3\n")
    keep_epochs(csv, 2)
    assert pd.read_csv(csv)["epoch"].tolist() == [1, 2]


def test_a_failed_job_writes_no_result(tmp_path):
    specs, _ = make_specs(tmp_path)
    spec = json.loads(specs["base"][0])
    spec["data"] = str(tmp_path / "missing" / "data.yaml")  # training cannot start
    out = tmp_path / "train.json"
    out.write_text("{}")  # a stale result from before: removed, not kept
    p = job(tmp_path, json.dumps(spec), str(out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = p.communicate(timeout=600)[0]
    assert p.returncode != 0 and not out.exists(), log[-2000:]
