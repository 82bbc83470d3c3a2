"""Shared by the workflow tests: a tiny config and study, a real snakemake invocation, a real mlflow server."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]

TINY_STUDY = {
    "study": "tiny", "table": "Table 2", "title": "tiny test study", "scales": ["n"],
    "variants": {
        "base": {"seeds": [0, 1]},  # the baseline twice: mean +- std over seeds
        "pe3": {"knobs": {"pe_kernel": 3}},
        "diverge": {"train": {"max_loss": 0.01}},  # any real loss exceeds this: the guard stops the run
    },
}


def tiny_config(tmp: Path, **overrides) -> dict:
    cfg = {
        "name": "tiny", "studies": ["tiny"], "scales": ["n"], "ablations_dir": str(tmp / "ablations"),
        "data": {"kind": "synthetic", "synthetic": {"n_train": 8, "n_val": 4, "imgsz": 64, "nc": 2, "max_objects": 2}},
        "train": {"epochs": 1, "imgsz": 64, "batch": 4, "workers": 0,
                  "recipe": {"nbs": 4, "plots": False, "warmup_epochs": 0}},
        "latency": {"imgsz": 64, "threads": 1, "warmup_iters": 1, "warmup_s": 0.0, "min_iters": 5, "min_s": 0.0},
        "complexity": {"imgsz": 64}, "export": {"imgsz": 64}, "evaluate": {"batch": 4},
        "bootstrap": {"n_boot": 200},
    }
    cfg.update(overrides)
    return cfg


def write_tiny(tmp: Path, study: dict = TINY_STUDY, **overrides) -> Path:
    (tmp / "ablations").mkdir(exist_ok=True)
    (tmp / "ablations" / f"{study['study']}.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    cfg = tmp / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(tmp, **overrides), sort_keys=False))
    return cfg


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 1500,
              env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "XDG_CACHE_HOME": str(workdir / "cache"),
                "YOLOV12_NODE_LOCKS": str(workdir / "node"), **(env or {})}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run([*SNAKEMAKE, "--directory", str(workdir), *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    return proc


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


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


@contextlib.contextmanager
def serve_mlflow(backend_uri: str):
    """A real ``mlflow server`` on 127.0.0.1 over ``backend_uri``; yields its base URL."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                post(f"{base}/api/2.0/mlflow/experiments/search", {"max_results": 1})
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("mlflow server did not answer on 127.0.0.1")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def result_files(results: Path) -> set[str]:
    """The results a run produced (job results and aggregated files), as paths relative to the results folder."""
    keep = {".json", ".csv", ".gz"}
    return {str(p.relative_to(results)) for p in results.rglob("*") if p.is_file() and p.suffix in keep
            and not p.name.endswith(("mlflow_run", ".detail.json", "predictions.json"))
            and "mlflow" not in p.parts and "data" not in p.parts and "train" not in p.parts}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny workflow run locally once per test process (modules using it share the xdist group 'tiny')."""
    tmp = tmp_path_factory.mktemp("wf")
    cfg = write_tiny(tmp)
    snakemake(tmp, "--configfile", str(cfg), "--cores", "2")
    return tmp, cfg
