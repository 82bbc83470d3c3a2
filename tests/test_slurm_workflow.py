"""The tiny workflow on a real single-node SLURM cluster (tests/cluster/slurm.py) with ``--executor slurm`` and the
shipped profile, logging to a real MLflow tracking server backed by PostgreSQL (tests/cluster/postgres.py): every
job appears in SLURM's accounting with the resources it declared, the results are the same set of files as a local
run of the same config, and no MLflow run or metric is lost."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import yaml

from cluster.slurm import FAST_POLLING, sacct_jobs
from conftest import ROOT
from workflow_helpers import post, result_files, snakemake, write_tiny

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
    assert {k: len(v) for k, v in by_rule.items()} == {"data": 1, "train": 4, "evaluate": 4, "complexity": 3,
                                                        "latency": 3}
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
    assert kinds == sorted(["train"] * 4 + ["evaluate"] * 4 + ["complexity"] * 3 + ["latency"] * 3)
    assert all(r["info"]["status"] == "FINISHED" and r["data"].get("metrics") for r in runs)
    summary = post(f"{base}/api/2.0/mlflow/runs/search", {"experiment_ids": [exps["tiny/tiny"]],
                                                          "max_results": 100})["runs"]
    assert len(summary) == 3  # base, pe3, diverge
