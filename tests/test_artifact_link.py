"""A timing cell is linked to the evaluated artifact it timed (docs/deployment.md).

The real workflow on a small one-class synthetic set: a config that times ONNX Runtime gets an export job it never
listed; that job exports the trained model at the timing size and scores the file beside eager; the timing session
times THAT file (the SHA-256 it recorded equals the export's) and latency.csv says "same model". Then the export's
file is replaced by one that divides its input by 255 a second time, scored for real, and the latency job run again:
the cell of that file is marked "fast but not the same model" in latency.csv and in the report's table."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from test_artifact import divide_input_again
from workflow_helpers import snakemake

from yolov12.evaluate.artifact import FLAG, evaluate_artifact, file_sha256

IMGSZ = 96
STUDY = {"study": "link", "table": "Table 2", "title": "timed artifact", "scales": ["n"],
         "measure": ["train", "evaluate", "latency"], "variants": {"base": {}}}


def link_config(tmp, **latency) -> dict:
    return {
        "name": "link", "studies": ["link"], "scales": ["n"], "seeds": [0],
        "ablations_dir": str(tmp / "ablations"),
        "data": {"kind": "synthetic", "synthetic": {"n_train": 64, "n_val": 24, "imgsz": IMGSZ, "nc": 1,
                                                    "max_objects": 3}},
        "train": {"epochs": 15, "imgsz": IMGSZ, "batch": 8, "workers": 0,
                  "recipe": {"nbs": 8, "plots": False, "warmup_epochs": 1, "val": False}},
        "latency": {"imgsz": IMGSZ, "threads": 1, "warmup_iters": 1, "warmup_s": 0.0, "min_iters": 3, "min_s": 0.0,
                    "processes": 1, "runtimes": ["eager", "onnxruntime"], **latency},
        "evaluate": {"batch": 8}, "bootstrap": {"n_boot": 200},
    }


def write(tmp, study=STUDY, **latency):
    (tmp / "ablations").mkdir(exist_ok=True)
    (tmp / "ablations" / "link.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    cfg = tmp / "link.yaml"
    cfg.write_text(yaml.safe_dump(link_config(tmp, **latency), sort_keys=False))
    return cfg


def test_exports_follow_the_latency_matrix_and_the_session_follows_the_export(tmp_path):
    """Plan only (no job): the export is derived from the matrix, once per architecture, at the timing size; the
    session's identity holds its export's, so a retrained model re-times its file; runtime_studies is a budget."""
    from yolov12.errors import UserError
    from yolov12.workflow.plan import make_plan

    write(tmp_path)
    config = link_config(tmp_path)
    plan = make_plan(config, "link.yaml")
    (arch,) = plan.run_dirs("export")  # never listed by the study: derived from the onnxruntime cells
    export = plan.identity("export", arch)
    assert export["imgsz"] == IMGSZ and export["artifacts"] == [{"device": "cpu", "format": "onnx",
                                                                 "precision": "fp32"}]
    (session,) = plan.run_dirs("latency")
    (cell,) = plan.identity("latency", session)["cells"]
    from yolov12.workflow import identity

    assert cell["export"] == identity.digest(export)
    assert plan.job_inputs("latency", session, "S")["export0"] == plan.result_path("export", arch)

    retrained = make_plan({**config, "train": {**config["train"], "epochs": 14}}, "link.yaml")
    assert retrained.identity("latency", retrained.run_dirs("latency")[0])["cells"][0]["export"] != cell["export"]

    eager_only = make_plan({**config, "latency": {**config["latency"], "runtimes": ["eager"]}}, "link.yaml")
    assert eager_only.run_dirs("export") == [] and "export" not in eager_only.identity(
        "latency", eager_only.run_dirs("latency")[0])["cells"][0]
    kept = make_plan({**config, "latency": {**config["latency"], "runtime_studies": {"onnxruntime": ["link"]}}},
                     "link.yaml")
    assert kept.run_dirs("export") == [arch]
    with pytest.raises(UserError, match="latency.runtime_studies.onnxruntime"):
        make_plan({**config, "latency": {**config["latency"], "runtime_studies": {"onnxruntime": ["nope"]}}},
                  "link.yaml")
    with pytest.raises(UserError, match="latency.runtime_studies.tensorrt"):
        make_plan({**config, "latency": {**config["latency"], "runtime_studies": {"tensorrt": ["link"]}}},
                  "link.yaml")


@pytest.mark.slow
def test_the_timed_file_is_the_scored_file_and_a_broken_one_is_marked(tmp_path):
    cfg = write(tmp_path)
    snakemake(tmp_path, "--configfile", str(cfg), "--cores", "2")
    results = tmp_path / "results" / "link"
    (export_path,) = results.glob("runs/*-arch-*/export.json")
    export = json.loads(export_path.read_text())
    (onnx,) = export["artifacts"]
    assert onnx["key"] == "onnx_fp32_cpu" and export["imgsz"] == IMGSZ
    acc = onnx["accuracy"]
    assert acc["ap_eager"] > 0.3 and acc["same_model"] and acc["artifact"]["sha256"] == onnx["sha256"]
    assert acc["settings"]["imgsz"] == IMGSZ  # eager and the file scored at the timing size, paired

    (latency_path,) = results.glob("runs/timing-n-*/latency.json")
    cells = json.loads(latency_path.read_text())["cells"]
    ort = next(c for c in cells if c["runtime"] == "onnxruntime")
    assert ort["status"] == "ok" and ort["runtime_info"]["onnx_file"] == onnx["file"]
    assert ort["runtime_info"]["sha256"] == ort["timed_sha256"] == onnx["sha256"]  # the same bytes
    assert ort["artifact_verdict"] == "same model" and ort["artifact_delta"] == acc["delta"]
    lat = pd.read_csv(results / "latency.csv")
    row = lat[lat["runtime"] == "onnxruntime"].iloc[0]
    assert row["artifact_verdict"] == "same model" and row["timed_sha256"] == onnx["sha256"]
    assert pd.isna(lat[lat["runtime"] == "eager"].iloc[0]["artifact_verdict"])  # eager times no file

    # the export's file broken (input divided by 255 again), scored for real, its record updated; the session again
    onnx_file = tmp_path / onnx["file"]  # paths of the results are relative to the workflow's folder
    divide_input_again(onnx_file, tmp_path / "broken.onnx").replace(onnx_file)
    eager = json.loads((tmp_path / acc["eager_result"]).read_text())
    data = results / "data" / "detect" / "data.yaml"
    bad = evaluate_artifact(tmp_path / export["weights_file"], onnx_file, data, tmp_path / "bad", imgsz=IMGSZ,
                            n_boot=200, eager=eager)
    assert bad["flag"] == FLAG and bad["hi"] < 0
    onnx.update(sha256=file_sha256(onnx_file), accuracy=bad)
    export_path.write_text(json.dumps(export))
    from yolov12.workflow.plan import make_plan

    config = yaml.safe_load(cfg.read_text())
    plan = make_plan(config, str(cfg))
    session = plan.run_dirs("latency")[0]
    spec = plan.spec("latency", session)
    spec["run_dir"] = str(latency_path.parent)
    spec["mlflow"]["uri"] = (results / "mlflow" / "store.ready").read_text().strip()
    proc = subprocess.run([sys.executable, "-m", "yolov12", "workflow", "run", "latency", "--spec", json.dumps(spec),
                           "--out", str(latency_path)], cwd=tmp_path, capture_output=True, text=True,
                          env={**__import__("os").environ, "YOLOV12_NODE_LOCKS": str(tmp_path / "node"),
                               "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ort = next(c for c in json.loads(latency_path.read_text())["cells"] if c["runtime"] == "onnxruntime")
    assert ort["timed_sha256"] == onnx["sha256"] and ort["artifact_verdict"] == FLAG
    assert ort["artifact_delta"] == bad["delta"]
    # its outputs are not the weights' either: the correctness gate refuses to time it, and the verdict says why
    assert ort["status"] == "failed" and "correctness gate" in ort["reason"]

    import os

    from yolov12.workflow.aggregate import aggregate

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        aggregate(plan)
    finally:
        os.chdir(cwd)
    lat = pd.read_csv(results / "latency.csv")
    assert lat[lat["runtime"] == "onnxruntime"].iloc[0]["artifact_verdict"] == FLAG

    from yolov12.report.cells import Ctx
    from yolov12.report.data import load_results
    from yolov12.report.deployment import linked_table

    table = linked_table(Ctx(load_results(results, "link"), True))
    (row,) = [row for row in table.rows if row[table.columns.index("Runtime")].text == "onnxruntime"]
    assert row[table.columns.index("Artifact")].text == FLAG and row[table.columns.index("Artifact")].strong
    assert row[table.columns.index("SHA-256 timed")].text == onnx["sha256"][:12]
    assert "correctness gate" in row[table.columns.index("Median (ms)")].reason


def test_a_file_cell_without_a_scored_file_is_a_gap_never_a_pass():
    """Seeded weights, a file other than the one scored, no file at all: each says so; eager cells get no verdict."""
    from yolov12.workflow.artifact_link import file_for_cell, link_cells
    from yolov12.report.timing import timing_text

    seeded = {"status": "ok", "weights_file": "w.pt", "artifacts": [
        {"key": "onnx_fp32_cpu", "format": "onnx", "precision": "fp32", "device": "cpu", "file": "m.onnx",
         "sha256": "a" * 64, "accuracy": None, "reason": "seeded weights: no training of this architecture"}]}
    asked = file_for_cell(seeded, "cpu", "fp32", "onnxruntime")
    assert asked == {"key": "onnx_fp32_cpu", "file": "m.onnx", "sha256": "a" * 64, "weights": "w.pt"}
    assert file_for_cell(seeded, "cpu", "fp32", "eager") is None
    fp16 = file_for_cell(seeded, "cpu", "fp16", "onnxruntime")
    assert fp16["file"] is None and "GPU only" in fp16["reason"]

    def cell(runtime, sha=None, artifact=None):
        return {"runtime": runtime, "device": "cpu", "precision": "fp32", "status": "ok", "tags": {"model_dir": "a"},
                "runtime_info": {"sha256": sha} if sha else {}, **({"artifact": artifact} if artifact else {})}

    cells = [cell("onnxruntime", "a" * 64, asked), cell("onnxruntime", "b" * 64, asked),
             cell("onnxruntime", None, fp16), cell("eager")]
    link_cells(cells, {"a": seeded})
    assert cells[0]["artifact_verdict"] == "not evaluated: seeded weights: no training of this architecture"
    assert cells[1]["artifact_verdict"] == "not evaluated: the file timed is not the file scored (its SHA-256 differs)"
    assert cells[2]["artifact_verdict"].startswith("not evaluated: Ultralytics exports fp16 on a GPU only")
    assert "artifact_verdict" not in cells[3]
    assert all(c["artifact_delta"] is None for c in cells[:3])  # no number where nothing was scored
    # an untrained model: eager scores 0, so the file's "same" AP shows nothing (a broken file scores 0 too)
    zero = {"ap_eager": 0.0, "ap_artifact": 0.0, "delta": 0.0, "lo": 0.0, "hi": 0.0, "level": 0.95,
            "tolerance": 0.005, "same_model": True, "flag": None, "conclusive": False, "artifact": {"sha256": "c" * 64}}
    untrained = {**seeded, "artifacts": [{**seeded["artifacts"][0], "sha256": "c" * 64, "accuracy": zero}]}
    cells = [cell("onnxruntime", "c" * 64, file_for_cell(untrained, "cpu", "fp32", "onnxruntime"))]
    link_cells(cells, {"a": untrained})
    assert cells[0]["artifact_verdict"].startswith("not evaluated: eager AP 0.000 is within the tolerance")
    row = {"median_ms": "10", "median_ci_lo": "9", "median_ci_hi": "11", "n_processes": "3", "iters": "10",
           "imgsz_h": "640", "imgsz_w": "640"}
    assert "artifact not evaluated" in timing_text({**row, "artifact_verdict": cells[0]["artifact_verdict"]})
    assert FLAG.upper() in timing_text({**row, "artifact_verdict": FLAG})
    assert "artifact" not in timing_text({**row, "artifact_verdict": "same model"}).lower()
