"""Accuracy of the exported artifact: a faithful ONNX export stays within tolerance of eager, one whose input is
normalised twice (/255 applied again inside the graph) is flagged with a ΔAP interval that excludes 0.

A real yolov12n trained briefly on a one-class synthetic set (real Ultralytics training), exported by Ultralytics'
exporter and run by ONNX Runtime on the CPU through the same validator, NMS and COCO toolkit as eager."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import yolov12
from yolov12.data.synth import generate
from yolov12.errors import UserError
from yolov12.evaluate.artifact import FLAG, evaluate_artifact, export_artifact, file_sha256, mark_cells

IMGSZ = 96


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("artifact")
    manifest = generate(root / "data", task="detect", nc=1, n_train=64, n_val=24, imgsz=IMGSZ, max_objects=3,
                        verbose=False)
    model = yolov12.build("yolov12", "n", nc=1)
    model.train(data=manifest["data"], epochs=15, imgsz=IMGSZ, batch=8, nbs=8, warmup_epochs=1, workers=0,
                device="cpu", plots=False, project=str(root), name="run", verbose=False, seed=0)
    ckpt = Path(model.trainer.best)
    onnx_file = export_artifact(ckpt, root / "artifacts", "onnx", IMGSZ)
    return ckpt, manifest["data"], onnx_file, root


def divide_input_again(src: Path, dst: Path) -> Path:
    """The same graph with its input multiplied by 1/255 before the first layer: the classic double normalisation
    of a deployment that divides by 255 in its own preprocessing and again in the graph. Metadata is kept."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(src))
    name = m.graph.input[0].name
    scaled = f"{name}_divided_again"
    for node in m.graph.node:
        node.input[:] = [scaled if i == name else i for i in node.input]
    m.graph.initializer.append(numpy_helper.from_array(np.array(1 / 255, dtype=np.float32), "one_over_255"))
    m.graph.node.insert(0, helper.make_node("Mul", [name, "one_over_255"], [scaled]))
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))
    return dst


@pytest.mark.slow
def test_faithful_export_is_the_same_model_and_a_double_normalised_one_is_flagged(trained):
    ckpt, data, onnx_file, root = trained
    good = evaluate_artifact(ckpt, onnx_file, data, root / "good", imgsz=IMGSZ, n_boot=300)
    assert good["ap_eager"] > 0.3  # the model learned something, so losing it is visible
    assert good["same_model"] and good["flag"] is None and abs(good["delta"]) <= good["tolerance"] == 0.005
    assert good["lo"] <= good["delta"] <= good["hi"]
    assert good["artifact"]["sha256"] == file_sha256(onnx_file) and good["format"] == "onnx"
    assert good["settings"]["rect"] is False and good["n_images"] == 24
    eager = json.loads(Path(good["eager_result"]).read_text())
    assert eager["settings"]["rect"] is False and "artifact" not in eager

    broken = divide_input_again(onnx_file, root / "artifacts" / "broken.onnx")
    bad = evaluate_artifact(ckpt, broken, data, root / "bad", imgsz=IMGSZ, n_boot=300,
                            eager=eager)  # eager reused: the same settings, its predictions saved
    assert bad["ap_eager"] == good["ap_eager"]
    assert not bad["same_model"] and bad["flag"] == FLAG
    assert bad["hi"] < 0 and bad["interval_excludes_zero"]  # the loss is not a resampling accident
    assert bad["artifact"]["sha256"] != good["artifact"]["sha256"]

    # the latency harness times the faithful file itself (ONNX Runtime, CPU) and records its checksum: the cell is
    # tied to the evaluation of that file; a cell of the broken file carries the flag; an eager cell neither
    from yolov12.latency import measure

    timed = measure(str(ckpt), devices=["cpu"], precisions=["fp32"], runtimes=["eager", "onnxruntime"],
                    imgszs=[IMGSZ], threads=1, warmup_iters=1, warmup_s=0, min_iters=3, min_s=0,
                    onnx_file=str(onnx_file))["cells"]
    ort = next(c for c in timed if c["runtime"] == "onnxruntime")
    assert ort["status"] == "ok" and ort["runtime_info"]["sha256"] == good["artifact"]["sha256"]
    cells = timed + [{"runtime": "onnxruntime", "runtime_info": {"onnx_file": str(broken)}}]
    mark_cells(cells, [good, bad])
    assert ort["artifact_flag"] is None and ort["artifact_accuracy"]["same_model"]
    assert ort["artifact_accuracy"]["ap_artifact"] == good["ap_artifact"]
    assert cells[-1]["artifact_flag"] == FLAG and cells[-1]["artifact_accuracy"]["delta"] == bad["delta"]
    assert "artifact_accuracy" not in next(c for c in timed if c["runtime"] == "eager")

    # the report's deployment section shows both beside eager, with the interval and the flag
    from yolov12.report.cells import Ctx
    from yolov12.report.data import load_results
    from yolov12.report.deployment import artifact_table

    for run_dir, accuracy in (("good", good), ("bad", bad)):
        (root / "results" / "runs" / run_dir).mkdir(parents=True)
        (root / "results" / "runs" / run_dir / "export.json").write_text(
            json.dumps({"status": "ok", "accuracy": accuracy, "mlflow_run_id": f"run-{run_dir}"}))
    table = artifact_table(Ctx(load_results(root / "results", "t"), True))
    verdicts = {row[0].text: row[table.columns.index("Verdict")].text for row in table.rows}
    assert verdicts == {"good": "same model", "bad": FLAG}
    bad_row = next(row for row in table.rows if row[0].text == "bad")
    assert bad_row[table.columns.index("AP artifact")].text == f"{bad['ap_artifact']:.3f}"
    assert f"{bad['hi']:.3f}".lstrip("-") in bad_row[table.columns.index("\u0394AP [interval]")].text


def test_bad_artifact_arguments_are_one_line_errors(tmp_path):
    ckpt = tmp_path / "x.pt"
    with pytest.raises(UserError, match="artifact: .txt is not an exported model"):
        evaluate_artifact(ckpt, tmp_path / "m.txt", tmp_path / "data.yaml", tmp_path, tolerance=0.01)
    with pytest.raises(UserError, match="ap_tolerance"):
        evaluate_artifact(ckpt, tmp_path / "m.onnx", tmp_path / "data.yaml", tmp_path, tolerance=-1)
    with pytest.raises(UserError, match="format"):
        export_artifact(ckpt, tmp_path, fmt="tflite")
