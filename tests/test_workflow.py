"""The real Snakemake workflow on a tiny config: end to end, divergence as a result, the MLflow store (and a real
``mlflow server`` answering its REST API), the no-op rerun and the one-variant-changed rerun; plus config
validation and concurrent MLflow writers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]

TINY_STUDY = {
    "study": "tiny", "table": "Table 2", "title": "tiny test study", "scales": ["n"],
    "variants": {
        "base": {},
        "pe3": {"knobs": {"pe_kernel": 3}},
        "diverge": {"train": {"max_loss": 0.01}},  # any real loss exceeds this: the guard stops the run
    },
}


def tiny_config(tmp: Path) -> dict:
    return {
        "name": "tiny", "synthetic": True, "studies": ["tiny"], "scales": ["n"], "ablations_dir": str(tmp / "ablations"),
        "data": {"kind": "synthetic", "synthetic": {"n_train": 8, "n_val": 4, "imgsz": 64, "nc": 2, "max_objects": 2}},
        "train": {"epochs": 1, "imgsz": 64, "batch": 4, "device": "cpu", "workers": 0, "threads": 1,
                  "recipe": {"nbs": 4, "plots": False, "warmup_epochs": 0}},
        "latency": {"imgsz": 64, "threads": 1, "warmup_iters": 1, "warmup_s": 0.0, "min_iters": 3, "min_s": 0.0},
        "complexity": {"imgsz": 64}, "export": {"imgsz": 64}, "evaluate": {"batch": 4},
    }


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(workdir / "cache")}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run([*SNAKEMAKE, "--directory", str(workdir), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    return proc


def write_tiny(tmp: Path, study: dict) -> Path:
    (tmp / "ablations").mkdir(exist_ok=True)
    (tmp / "ablations" / "tiny.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    cfg = tmp / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(tmp), sort_keys=False))
    return cfg


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts from a dry run's 'Job stats' table."""
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    stats = text.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    return {line.split()[0]: int(line.split()[1]) for line in stats if len(line.split()) == 2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wf")
    cfg = write_tiny(tmp, TINY_STUDY)
    t0 = time.perf_counter()
    snakemake(tmp, "--configfile", str(cfg), "--cores", "2", "aggregate")
    return tmp, cfg, time.perf_counter() - t0


@pytest.mark.slow
def test_tiny_workflow_end_to_end(tiny_run):
    tmp, _, seconds = tiny_run
    results = tmp / "results" / "tiny"
    acc = pd.read_csv(results / "accuracy.csv")
    assert set(acc["variant"]) == {"base", "pe3", "diverge"}
    ok = acc[acc["variant"] != "diverge"]
    assert ok["converged"].all() and ok["mlflow_run_id"].notna().all() and (ok["AP"] >= 0).all()
    diverged = acc[acc["variant"] == "diverge"].iloc[0]
    assert not diverged["converged"] and diverged["diverged_epoch"] == 1  # divergence is a result, not a failure
    cx = pd.read_csv(results / "complexity.csv")
    assert len(cx) == 3 and (cx["params"] > 0).all() and (cx["gflops"] > 0).all()
    lat = pd.read_csv(results / "latency.csv")
    assert (lat["status"] == "ok").any() and lat["median_ms"].dropna().gt(0).all()
    curves = pd.read_csv(results / "curves.csv")
    assert {"epoch", "metrics/mAP50(B)"} <= set(curves.columns)
    print(f"tiny workflow: {seconds:.0f} s")


@pytest.mark.slow
def test_mlflow_store_has_every_job_and_a_real_server_serves_it(tiny_run):
    tmp, _, _ = tiny_run
    results = tmp / "results" / "tiny"
    uri = (results / "mlflow" / "store.ready").read_text().strip()
    from mlflow.tracking import MlflowClient

    runs = MlflowClient(uri).search_runs([e.experiment_id for e in MlflowClient(uri).search_experiments()])
    kinds = sorted(r.data.tags["kind"] for r in runs)
    assert kinds == sorted(["train"] * 3 + ["evaluate"] * 3 + ["complexity"] * 3 + ["latency"] * 3)
    train = next(r for r in runs if r.data.tags["kind"] == "train" and "knob.pe_kernel" in r.data.params
                 and r.data.params["knob.pe_kernel"] == "3")
    for key in ("study", "variant", "scale", "task", "config", "git_commit", "config_hash", "device"):
        assert train.data.tags[key], key
    assert train.data.tags["study"] == "tiny" and train.data.tags["config"] == "tiny"
    assert len(MlflowClient(uri).get_metric_history(train.info.run_id, "metrics/mAP50_B")) == 1  # one epoch

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body = None
        for _ in range(120):
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search",
                                             data=json.dumps({"max_results": 100}).encode(),
                                             headers={"Content-Type": "application/json"})
                exps = json.loads(urllib.request.urlopen(req, timeout=5).read())["experiments"]
                ids = [e["experiment_id"] for e in exps if e["name"].startswith("tiny/")]
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search",
                                             data=json.dumps({"experiment_ids": ids, "max_results": 100}).encode(),
                                             headers={"Content-Type": "application/json"})
                body = json.loads(urllib.request.urlopen(req, timeout=5).read())
                break
            except OSError:
                time.sleep(0.5)
        assert body is not None, "mlflow server did not answer on 127.0.0.1"
        assert len(body["runs"]) == len(runs)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_second_run_is_a_no_op_and_one_changed_variant_reruns_only_its_jobs(tiny_run):
    tmp, cfg, _ = tiny_run
    assert planned_jobs(snakemake(tmp, "--configfile", str(cfg), "--cores", "2", "-n", "aggregate")) == {}
    study = json.loads(json.dumps(TINY_STUDY))
    study["variants"]["pe3"]["knobs"]["pe_kernel"] = 5
    write_tiny(tmp, study)
    jobs = planned_jobs(snakemake(tmp, "--configfile", str(cfg), "--cores", "2", "-n", "aggregate"))
    for kind in ("train", "evaluate", "complexity", "latency"):
        assert jobs.get(kind) == 1, jobs
    assert "data_synth" not in jobs and "mlflow_store" not in jobs


def test_bad_config_stops_before_any_job_naming_the_key(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg["train"]["epoch"] = 3  # typo for 'epochs'
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "--configfile", str(tmp_path / "bad.yaml"), "--cores", "1", "-n", check=False)
    assert proc.returncode != 0 and "'epoch'" in proc.stdout + proc.stderr
    cfg["train"].pop("epoch")
    cfg["latency"]["precisions"] = ["fp8"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "--configfile", str(tmp_path / "bad.yaml"), "--cores", "1", "-n", check=False)
    assert proc.returncode != 0 and "fp8" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_paper_config_dry_runs_without_coco_or_gpu(tmp_path):
    proc = snakemake(tmp_path, "--configfile", str(ROOT / "workflows" / "config" / "paper.yaml"), "--cores", "1",
                     "-n", "--quiet", "rules")
    jobs = planned_jobs(snakemake(tmp_path, "--configfile", str(ROOT / "workflows" / "config" / "paper.yaml"),
                                  "--cores", "1", "-n"))
    assert proc.returncode == 0
    assert jobs["train"] > 60 and jobs["latency"] > 70 and jobs["data_coco"] == 1 and jobs["export"] == 20


CONCURRENT_WRITER = """
import sys
from yolov12.workflow import tracking
uri, i = sys.argv[1], int(sys.argv[2])
curves = [{"epoch": e, "loss": 1.0 / (e + 1), "map": e / 10} for e in range(1, 21)]
tracking.log_run(uri, "cfg/concurrency", f"job{i}", {"i": i, **{f"p{k}": k for k in range(30)}},
                 {f"m{k}": float(k) for k in range(40)}, {"kind": "test", "i": str(i)}, curves)
"""


def test_eight_concurrent_jobs_lose_no_run_and_no_metric(tmp_path):
    from mlflow.tracking import MlflowClient

    from yolov12.workflow import tracking

    uri = tracking.init_store(tmp_path, "cfg", ["concurrency"])  # once, before the parallel writers
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, uri, str(i)], env=env,
                              stderr=subprocess.PIPE, text=True) for i in range(8)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()[-3000:]
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("cfg/concurrency")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(int(r.data.tags["i"]) for r in runs) == list(range(8))
    for r in runs:
        assert len(r.data.metrics) == 42 and len(r.data.params) == 31
        assert len(client.get_metric_history(r.info.run_id, "loss")) == 20


class TrainerState:
    """The three attributes of Ultralytics' trainer that the guard reads, as the trainer holds them mid-epoch."""

    def __init__(self, losses, epoch=2):
        import torch

        self.tloss = {f"train/{k}": torch.tensor(v) for k, v in zip(("box", "cls", "dfl"), losses)}
        self.loss = torch.tensor(sum(losses))
        self.epoch = epoch


def test_divergence_guard_stops_on_nan_and_on_explosion():
    from yolov12.workflow.jobs import Diverged, DivergenceGuard

    guard = DivergenceGuard(max_loss=100.0)
    guard(TrainerState([1.0, 2.0, 1.5]))  # healthy: no exception
    with pytest.raises(Diverged, match="epoch 3: loss is NaN/inf") as nan:
        guard(TrainerState([1.0, float("nan"), 1.5]))
    assert nan.value.epoch == 3
    with pytest.raises(Diverged, match="above max_loss=100.0"):
        guard(TrainerState([90.0, 20.0, 1.0]))
