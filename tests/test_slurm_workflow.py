"""The tiny workflow on a real single-node SLURM cluster (tests/cluster/slurm.py) with ``--executor slurm`` and the
shipped profile, logging to a real MLflow tracking server backed by PostgreSQL (tests/cluster/postgres.py): every
job appears in SLURM's accounting with the resources it declared, the results are the same set of files as a local
run of the same config, and no MLflow run or metric is lost."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from cluster.slurm import FAST_POLLING, sacct_jobs
from conftest import ROOT
from workflow_helpers import SNAKEMAKE, post, result_files, snakemake, write_tiny
from yolov12.workflow.plan import make_plan

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny")]  # shares the local tiny run (tiny_run)
PROFILE = ROOT / "workflows" / "profiles" / "slurm"
# what each job declares (SLURM's node here: 2 CPUs); a latency job asks for the node to itself
RESOURCES = {kind: {"cpus": 1, "mem_mb": 1500 + 100 * i, "runtime": 20 + i}
             for i, kind in enumerate(("train", "evaluate", "complexity", "latency", "export"))}


def test_tiny_workflow_on_slurm_logging_to_postgres(slurm_cluster, mlflow_server, tiny_run, tmp_path):
    local, _ = tiny_run
    cfg = write_tiny(tmp_path, resources=RESOURCES, mlflow={"tracking_uri": mlflow_server.tracking_uri})
    env = slurm_cluster.env()
    env.update(YOLOV12_SLURM_PARTITION=slurm_cluster.partition, YOLOV12_SLURM_ACCOUNT=slurm_cluster.account)
    since = dt.datetime.now() - dt.timedelta(seconds=1)
    t0 = time.monotonic()
    snakemake(tmp_path, "--configfile", str(cfg), "--profile", str(PROFILE), "--executor", "slurm", *FAST_POLLING,
              "--jobs", "4", env=env, timeout=2400)
    print(f"\ntiny workflow on SLURM: {time.monotonic() - t0:.0f} s")

    # every job ran as a SLURM job with exactly what it declared
    expected = yaml.safe_load(cfg.read_text())
    deadline = time.monotonic() + 120
    while True:  # accounting reaches slurmdbd asynchronously
        jobs = [j for j in sacct_jobs(slurm_cluster, since=since) if j["Comment"].startswith("rule_")]
        if jobs and all(j["State"] == "COMPLETED" for j in jobs):
            break
        assert time.monotonic() < deadline, jobs
        time.sleep(2)
    by_rule: dict[str, list] = {}
    for job in jobs:
        by_rule.setdefault(job["Comment"].split("_")[1], []).append(job)
        print(f"  {job['JobID']:>5} {job['Comment'][:60]:60s} {job['State']} mem={job['ReqMem']:.0f}MB "
              f"time={job['Timelimit']:.0f}min cpus={job['AllocCPUS']} {job['AllocTRES']}")
    # one job per training, and per scale one complexity session and one timing session, as the plan says
    plan = make_plan(expected, str(cfg), ROOT)
    planned = {k: len(plan.run_dirs(k)) for k in ("train", "evaluate", "complexity", "latency")}
    scales = {r.scale for r in plan.runs}
    assert planned["train"] == 4 and planned["latency"] == planned["complexity"] == len(scales)
    assert {k: len(v) for k, v in by_rule.items()} == {"data": 1, **planned}
    for kind, declared in expected["resources"].items():
        for job in by_rule.get(kind, []):
            assert job["ReqMem"] == declared["mem_mb"] and job["Timelimit"] == declared["runtime"], job
            if kind == "latency":  # --exclusive: the timing job is given the whole node
                assert job["AllocCPUS"] == slurm_cluster.cpus, job
            else:
                assert job["ReqCPUS"] == job["AllocCPUS"] == declared["cpus"], job

    # the same results as the local run of the same config
    assert result_files(tmp_path / "results" / "tiny") == result_files(local / "results" / "tiny")

    # every job's MLflow run is on the PostgreSQL-backed server, finished, with its metrics
    base = mlflow_server.tracking_uri
    exps = {e["name"]: e["experiment_id"] for e in
            post(f"{base}/api/2.0/mlflow/experiments/search", {"max_results": 100})["experiments"]}
    runs = post(f"{base}/api/2.0/mlflow/runs/search", {"experiment_ids": [exps["tiny/jobs"]],
                                                       "max_results": 200})["runs"]
    kinds = sorted({t["key"]: t["value"] for t in r["data"]["tags"]}["kind"] for r in runs)
    # one run per job; a complexity session logs one run per architecture it counts (each its own record)
    per_kind = {**planned, "complexity": sum(len(plan.identity("complexity", d)["cells"])
                                             for d in plan.run_dirs("complexity"))}
    assert kinds == sorted(k for k, n in per_kind.items() for _ in range(n))
    assert all(r["info"]["status"] == "FINISHED" and r["data"].get("metrics") for r in runs)
    summary = post(f"{base}/api/2.0/mlflow/runs/search", {"experiment_ids": [exps["tiny/tiny"]],
                                                          "max_results": 100})["runs"]
    assert len(summary) == 3  # base, pe3, diverge


# Planted in each training's first attempt through PYTHONPATH (a sitecustomize module, so the rule's own command
# runs unchanged inside the SLURM job): the failpoint of the kill tests pauses the training in epoch 2, after epoch
# 1's checkpoint, and the SLURM job id is left beside it for the test to cancel.
_PAUSE_FIRST_ATTEMPT = '''\
import os, sys
from pathlib import Path
pause_dir = os.environ.get("YOLOV12_TEST_PAUSE_DIR")
if pause_dir and "--out" in sys.argv and sys.argv[1:4] == ["workflow", "run", "train"]:
    name = Path(sys.argv[sys.argv.index("--out") + 1]).parent.name  # the run folder (the spec is the identity)
    planted = Path(pause_dir) / (name + ".job")
    if not planted.exists():
        planted.write_text(os.environ.get("SLURM_JOB_ID", ""))
        sys.path.insert(0, {tests!r})
        import failpoints
        failpoints.plant("mid-epoch:2", str(Path(pause_dir) / (name + ".ready")))
'''


def test_cancelled_and_timed_out_trainings_are_retried_once_and_resume(slurm_cluster, tmp_path):
    """Two trainings under SLURM, each stopped in its second epoch: one by ``scancel``, one by its time limit. The
    plugin (with yolov12.workflow.slurm_states) sees both failed and resubmits each once; the retry resumes from epoch
    1's checkpoint, so each epoch is trained once; attempts.json says why each attempt ended."""
    study = {"study": "tiny", "table": "Table 2", "title": "retries", "scales": ["n"],
             "variants": {"base": {"seeds": [0, 1]}}}
    cfg = write_tiny(tmp_path, study=study, train={"epochs": 2, "imgsz": 64, "batch": 4, "workers": 0,
                                                   "recipe": {"nbs": 4, "plots": False, "warmup_epochs": 0}},
                     resources={"train": {"cpus": 1, "mem_mb": 1500, "runtime": 2, "retries": 1}})
    inject, pause = tmp_path / "inject", tmp_path / "pause"
    inject.mkdir()
    pause.mkdir()
    (inject / "sitecustomize.py").write_text(_PAUSE_FIRST_ATTEMPT.format(tests=str(ROOT / "tests")))
    env = slurm_cluster.env()
    env.update(YOLOV12_SLURM_PARTITION=slurm_cluster.partition, YOLOV12_SLURM_ACCOUNT=slurm_cluster.account,
               YOLOV12_TEST_PAUSE_DIR=str(pause), YOLOV12_STOP_GRACE_S="3",
               PYTHONPATH=os.pathsep.join([str(inject), env.get("PYTHONPATH", "")]),
               XDG_CACHE_HOME=str(tmp_path / "cache"), YOLOV12_NODE_LOCKS=str(tmp_path / "node"))
    env.pop("MLFLOW_TRACKING_URI", None)
    since = dt.datetime.now() - dt.timedelta(seconds=1)
    log = open(tmp_path / "snakemake.log", "w")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen([*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(cfg), "--profile",
                             str(PROFILE), "--executor", "slurm", *FAST_POLLING, "--jobs", "4", "--until", "train"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 900
        while len(list(pause.glob("*.ready"))) < 2:  # both trainings paused in epoch 2
            assert proc.poll() is None, (tmp_path / "snakemake.log").read_text()[-4000:]
            assert time.monotonic() < deadline, "the trainings never reached epoch 2"
            time.sleep(2)
        cancelled, timed_out = sorted(p.stem for p in pause.glob("*.ready"))
        job_id = (pause / f"{cancelled}.job").read_text()
        subprocess.run(["scancel", job_id], env=env, check=True, timeout=30)
        proc.wait(timeout=max(60.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # the plugin cancels its jobs on Ctrl-C
            proc.wait(timeout=120)
        log.close()
    text = (tmp_path / "snakemake.log").read_text()
    assert proc.returncode == 0, text[-6000:]

    listing = subprocess.run(["sacct", "--allusers", "-X", f"--starttime={since:%Y-%m-%dT%H:%M:%S}", "--endtime=now",
                              "--format=JobID,JobName%36,Comment%60,State%16,Timelimit,Elapsed,ExitCode"],
                             env=env, capture_output=True, text=True, check=True).stdout
    print("\nsacct listing:\n" + listing)
    trains = [j for j in sacct_jobs(slurm_cluster, since=since) if j["Comment"].startswith("rule_train")]
    states = sorted(j["State"].split()[0] for j in trains)
    assert states == ["CANCELLED", "COMPLETED", "COMPLETED", "TIMEOUT"], trains

    for run, why in ((cancelled, "cancelled"), (timed_out, "time limit")):
        run_dir = tmp_path / "results" / "tiny" / "runs" / run
        attempts = json.loads((run_dir / "attempts.json").read_text())
        print(run, json.dumps(attempts, indent=1))
        assert [a["outcome"] for a in attempts] == ["stopped", "ok"], attempts
        assert attempts[0]["reason"] == why and attempts[0]["signal"] == signal.SIGTERM, attempts
        assert attempts[1]["resumed_epoch"] == 1, attempts
        assert attempts[0]["slurm_job"] != attempts[1]["slurm_job"], attempts  # a resubmission, not a step retry
        epochs = [int(r["epoch"]) for r in csv.DictReader(
            line.replace(" ", "") for line in (run_dir / "train" / "results.csv").read_text().splitlines())]
        assert epochs == [1, 2], epochs
        result = json.loads((run_dir / "train.json").read_text())
        assert result["attempts"] == 2 and result["epochs_done"] == 2, result
