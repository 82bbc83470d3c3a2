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


def failpoint_job(tmp: Path, point: str, spec: str, out: str, env_extra: dict | None = None) -> None:
    """Run the train job with a pause planted at ``point`` (tests/failpoints.py) and kill -9 it there."""
    ready = tmp / f"ready-{point.replace(':', '-')}"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache"), "YOLOV12_NODE_LOCKS": str(tmp / "node"),
           **(env_extra or {})}
    p = subprocess.Popen([sys.executable, str(Path(__file__).parent / "failpoints.py"), point, str(ready), "--",
                          "workflow", "run", "train", "--spec", spec, "--out", out], cwd=tmp, env=env,
                         start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while not ready.is_file():
        assert p.poll() is None and time.monotonic() < deadline, f"the job never reached {point}"
        time.sleep(0.1)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not (tmp / out).exists()  # a killed job leaves no result


def rerun_and_check(tmp: Path, spec: str, out: str, run_dir: Path) -> dict:
    """The rerun resumes and ends with every epoch exactly once: results.csv, attempts, one MLflow run, its steps."""
    from mlflow.tracking import MlflowClient

    rerun = job(tmp, spec, out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = rerun.communicate(timeout=900)[0]
    assert rerun.returncode == 0, log[-3000:]
    result = json.loads((tmp / out).read_text())
    epochs = pd.read_csv(run_dir / "train" / "results.csv")["epoch"].tolist()
    assert epochs == [1, 2, 3, 4] and result["epochs_done"] == 4 and result["attempts"] == 2
    attempts = json.loads((run_dir / "attempts.json").read_text())
    assert [a["outcome"] for a in attempts] == ["killed", "ok"] and attempts[0]["seconds"] > 0
    assert result["seconds"] == round(sum(a["seconds"] for a in attempts), 1)  # both attempts' time
    client = MlflowClient(json.loads(spec)["mlflow"]["uri"])
    runs = client.search_runs([client.get_experiment_by_name("tiny/jobs").experiment_id])
    assert len(runs) == 1 and runs[0].info.run_id == result["mlflow_run_id"]  # one live run across attempts
    steps = [m.step for m in client.get_metric_history(result["mlflow_run_id"], "train/box_loss")]
    assert sorted(steps) == [1, 2, 3, 4]  # every epoch logged exactly once
    return {"log": log, "attempts": attempts, "client": client, "result": result}


@pytest.mark.slow
@pytest.mark.parametrize("point, rows_at_kill", [("checkpoint-write:3", 3), ("mid-epoch:3", 2)])
def test_kill_9_then_rerun_loses_and_repeats_no_epoch(tmp_path, point, rows_at_kill):
    """kill -9 (a) halfway through writing epoch 3's checkpoint (its results.csv row is already written) and (b) in
    the middle of epoch 3: the checkpoint on disk is epoch 2's, whole; the rerun resumes from it and trains 3 and 4."""
    from yolov12.workflow.checkpoints import checkpoint_state

    specs, _ = make_specs(tmp_path, epochs=4)
    spec, out = specs["base"]
    run_dir = tmp_path / json.loads(spec)["run_dir"]
    weights = run_dir / "train" / "weights"
    failpoint_job(tmp_path, point, spec, out)
    assert len(pd.read_csv(run_dir / "train" / "results.csv")) == rows_at_kill
    assert checkpoint_state(weights / "last.pt") == ("interrupted", 2)  # whole, never the half-written one
    if point.startswith("checkpoint-write"):
        assert list(weights.glob(".last.pt.*.tmp"))  # the interrupted write is a temporary file, not last.pt
    checked = rerun_and_check(tmp_path, spec, out, run_dir)
    assert f"resuming from {weights / 'last.pt'}" in checked["log"]
    assert checked["attempts"][1]["resumed_from"] == "last.pt" and checked["attempts"][1]["resumed_epoch"] == 2
    assert not list(weights.glob(".*.tmp"))


@pytest.mark.slow
def test_unreadable_checkpoints_fall_back_to_the_last_whole_one(tmp_path):
    """last.pt and best.pt truncated (a writer that was not atomic, a disk fault), epoch1.pt gone: the rerun resumes
    from epoch0.pt (1 epoch), cuts epoch 2 from results.csv, supersedes the MLflow run that had logged it, and says
    why in attempts.json; never 'internal error'."""
    specs, _ = make_specs(tmp_path, epochs=4)
    spec = json.loads(specs["base"][0])
    spec["args"]["save_period"] = 1  # epoch0.pt, epoch1.pt, ...: the older whole checkpoints to fall back to
    spec, out = json.dumps(spec), specs["base"][1]
    run_dir = tmp_path / json.loads(spec)["run_dir"]
    weights = run_dir / "train" / "weights"
    failpoint_job(tmp_path, "mid-epoch:3", spec, out)
    for name in ("last.pt", "best.pt"):
        data = (weights / name).read_bytes()
        (weights / name).write_bytes(data[: len(data) // 3])
    (weights / "epoch1.pt").unlink()
    checked = rerun_and_check(tmp_path, spec, out, run_dir)
    notes = " ".join(checked["attempts"][1]["notes"])
    assert "last.pt unreadable" in notes and "best.pt unreadable" in notes and "epoch0.pt" in notes
    assert checked["attempts"][1]["resumed_from"] == "epoch0.pt" and checked["attempts"][1]["resumed_epoch"] == 1
    client = checked["client"]
    old = client.search_runs([client.get_experiment_by_name("tiny/jobs").experiment_id], run_view_type=2)
    old = [r for r in old if r.info.run_id != checked["result"]["mlflow_run_id"]]
    assert len(old) == 1 and old[0].data.tags["yolov12.superseded_by"] == checked["result"]["mlflow_run_id"]


@pytest.mark.slow
def test_a_retry_never_trains_beside_an_orphan(tmp_path):
    """A process of an earlier attempt (a DDP worker whose launcher died) still holds the run directory: the retry
    waits, stops it, records that, and trains."""
    specs, _ = make_specs(tmp_path, epochs=1)
    spec, out = specs["base"]
    run_dir = tmp_path / json.loads(spec)["run_dir"]
    run_dir.mkdir(parents=True)
    orphan = subprocess.Popen([sys.executable, "-c", "import sys, time; from yolov12.workflow.runlock import "
                               "hold_as_worker; hold_as_worker(sys.argv[1]); print('held', flush=True); "
                               "time.sleep(600)", str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert orphan.stdout.readline().strip() == "held"
    p = job(tmp_path, spec, out, {"YOLOV12_ORPHAN_WAIT_S": "1"}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
    log = p.communicate(timeout=900)[0]
    assert p.returncode == 0, log[-3000:]
    assert orphan.wait(timeout=60) == -signal.SIGTERM
    notes = json.loads((run_dir / "attempts.json").read_text())[0]["notes"]
    assert f"pid(s) [{orphan.pid}]" in notes[0] and "SIGTERM" in notes[1]


def test_resume_point_picks_the_newest_whole_checkpoint(tmp_path):
    import torch

    from yolov12.workflow.checkpoints import resume_point, write_checkpoint

    def ckpt(name, epoch, optimizer=True):
        torch.save({"epoch": epoch, "optimizer": {} if optimizer else None, "model": None}, tmp_path / name)

    assert resume_point(tmp_path).state == "missing" and not resume_point(tmp_path).notes
    ckpt("epoch0.pt", 0)
    ckpt("best.pt", 1)
    ckpt("last.pt", 2)
    (tmp_path / "last.pt").write_bytes((tmp_path / "last.pt").read_bytes()[:50])
    (tmp_path / ".last.pt.x1.tmp").write_bytes(b"half")
    point = resume_point(tmp_path)
    assert (point.state, point.epochs, point.path.name) == ("interrupted", 2, "best.pt")
    assert "last.pt unreadable" in point.notes[0] and not list(tmp_path.glob(".*.tmp"))
    for name in ("best.pt", "epoch0.pt"):
        (tmp_path / name).write_bytes(b"")
    point = resume_point(tmp_path)
    assert point.state == "missing" and "restarts from nothing" in point.notes[-1]
    ckpt("best.pt", -1, optimizer=False)  # stripped at the end of training: the run had finished
    assert resume_point(tmp_path).state == "finished"
    write_checkpoint(tmp_path / "last.pt", b"whole")
    assert (tmp_path / "last.pt").read_bytes() == b"whole" and not list(tmp_path.glob(".*.tmp"))


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


@pytest.mark.slow
def test_unvalidated_epochs_are_gaps_and_the_optimizer_that_ran_is_recorded(tmp_path):
    """val: false validates the final epoch only: epoch 1 (Ultralytics' placeholder zeros) is no validated epoch in
    train.json or MLflow. optimizer: auto trains with an optimizer and learning rate of its own choosing: recorded."""
    from mlflow.tracking import MlflowClient

    specs, _ = make_specs(tmp_path, epochs=2)
    spec, out = specs["base"]
    p = job(tmp_path, spec, out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = p.communicate(timeout=900)[0]
    assert p.returncode == 0, log[-3000:]
    result = json.loads((tmp_path / out).read_text())
    assert result["validated_epochs"] == [2]
    assert json.loads(spec)["args"].get("optimizer", "auto") == "auto"
    ran = result["optimizer"]
    assert ran["optimizer"] in ("AdamW", "SGD", "MuSGD") and ran["lr0"] > 0
    assert ran["lr0"] != json.loads(spec)["args"].get("lr0", 0.01)  # auto chose its own learning rate
    client = MlflowClient(json.loads(spec)["mlflow"]["uri"])
    run = client.get_run(result["mlflow_run_id"])
    assert run.data.params["ran.optimizer"] == ran["optimizer"] and float(run.data.params["ran.lr0"]) == ran["lr0"]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "metrics/mAP50-95_B")] == [2]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/box_loss")] == [1, 2]
