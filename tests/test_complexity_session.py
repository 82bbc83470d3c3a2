"""The complexity session: one job per scale counts every architecture of the plan at that scale in one process,
each with its own record (keyed by its architecture's folder) and its own MLflow run. Real: a tiny plan, the job
run through the workflow's command line, the store a real SQLite MLflow database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from workflow_helpers import TINY_STUDY, tiny_config

import yaml


def _plan(tmp: Path, study: dict = TINY_STUDY, **overrides):
    from yolov12.workflow.plan import make_plan

    (tmp / "ablations").mkdir(parents=True, exist_ok=True)
    (tmp / "ablations" / "tiny.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    return make_plan(tiny_config(tmp, **overrides), "tiny.yaml", tmp)


def test_one_complexity_job_per_scale_named_by_its_architectures_and_settings(tmp_path):
    plan = _plan(tmp_path)
    architectures = sorted({r.model_dir for r in plan.runs if "complexity" in r.measure})
    assert len(architectures) >= 2  # base (both seeds) and diverge share one; pe3 is another
    [session] = plan.run_dirs("complexity")
    assert session.startswith("complexity-n-")
    ident = plan.identity("complexity", session)
    assert [c["model_dir"] for c in ident["cells"]] == architectures
    assert ident["complexity"] == {"imgsz": plan.config["complexity"]["imgsz"]}
    assert all(r.folder("complexity") == session for r in plan.runs if "complexity" in r.measure)
    # another complexity size is another session; a training setting is not part of it
    assert _plan(tmp_path / "a", complexity={"imgsz": 128}).run_dirs("complexity") != [session]
    other = tiny_config(tmp_path)
    assert _plan(tmp_path / "b", train={**other["train"], "epochs": 2}).run_dirs("complexity") == [session]


def test_the_session_counts_each_architecture_in_one_process_with_its_own_record_and_run(tmp_path):
    plan = _plan(tmp_path)
    [session] = plan.run_dirs("complexity")
    out = tmp_path / plan.result_path("complexity", session)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YOLOV12_NODE_LOCKS": str(tmp_path / "node")}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run([sys.executable, "-m", "yolov12", "workflow", "run", "complexity", "--spec",
                           plan.identity_json("complexity", session), "--out", str(out)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    cells = plan.identity("complexity", session)["cells"]
    assert sorted(result["architectures"]) == [c["model_dir"] for c in cells]
    for cell in cells:
        record = result["architectures"][cell["model_dir"]]
        assert record["model"] == cell["model"] and record["params"] > 0 and record["gflops_true"] > 0
    base, pe3 = (result["architectures"][next(r.model_dir for r in plan.runs if r.variant == v)]
                 for v in ("base", "pe3"))
    assert pe3["params"] != base["params"]  # a 3x3 position kernel instead of 7x7: fewer weights
    ids = [r["mlflow_run_id"] for r in result["architectures"].values()]
    assert len(set(ids)) == len(ids) == len(cells)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{(tmp_path / plan.results / 'mlflow' / 'mlflow.db').resolve()}")
    for model_dir, record in result["architectures"].items():
        run = client.get_run(record["mlflow_run_id"])
        assert run.info.status == "FINISHED" and run.data.tags["model_dir"] == model_dir
        assert run.data.metrics["params"] == record["params"]

    from yolov12.workflow.complexity_job import architecture_record

    assert architecture_record(result, "not-an-architecture") is None
