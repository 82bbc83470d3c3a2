"""Numbers that were never measured are gaps: COCO's -1 ("no objects of this size") never reaches a table as
-100 %, and an Ultralytics metrics block that disagrees with the COCO numbers is dropped with the reason."""

from __future__ import annotations

import json

import pytest

from yolov12.evaluate.cocoeval import NO_OBJECTS, measured, score


def small_objects_only(tmp_path):
    """Two images, one category, only small boxes (area < 32^2): AP_medium / AP_large have nothing to score."""
    gt = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 640} for i in (1, 2)],
          "categories": [{"id": 1, "name": "thing"}],
          "annotations": [{"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400,
                           "iscrowd": 0} for i in (1, 2)]}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    preds = [{"image_id": i, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9} for i in (1, 2)]
    return path, preds


@pytest.mark.parametrize("backend", ["pycocotools", "faster-coco-eval"])
def test_no_large_objects_is_a_gap_not_minus_one(tmp_path, backend):
    pytest.importorskip(backend.replace("-", "_"))
    path, preds = small_objects_only(tmp_path)
    result = score(path, preds, backend=backend)
    assert result["AP"] == pytest.approx(1.0)
    assert result["AP_small"] == pytest.approx(1.0)
    assert result["AP_large"] is None and result["AP_medium"] is None
    assert result["gaps"]["AP_large"] == NO_OBJECTS
    assert all(v is None or v >= 0 for v in result.values() if isinstance(v, (int, float)) or v is None)


def test_older_results_with_minus_one_read_as_gap():
    assert measured(-1.0) is None and measured(-1) is None and measured(float("nan")) is None
    assert measured(0.0) == 0.0 and measured(0.5) == 0.5 and measured(None) is None and measured(True) is None


def test_aggregation_row_has_no_minus_one():
    from yolov12.workflow.aggregate import accuracy_row

    base = {"task": "detect"}
    ev = {"coco": {"bbox": {"AP": 0.4, "AP_small": 0.2, "AP_medium": -1.0, "AP_large": -1.0}}}
    row = accuracy_row(base, {"converged": True}, ev)
    assert row["AP"] == 0.4 and row["AP_medium"] is None and row["AP_large"] is None


def test_report_never_averages_the_sentinel():
    from yolov12.report.data import Run

    run = Run.__new__(Run)
    run.accuracy = [{"converged": "True", "AP_large": "-1.0"}, {"converged": "True", "AP_large": "-1.0"}]
    assert run.acc_values("AP_large") == []


def test_ultralytics_block_dropped_when_it_disagrees_with_coco():
    from yolov12.evaluate import cross_check

    coco = {"bbox": {"AP": 0.41, "AP50": 0.60}}
    agreeing = {"metrics/mAP50-95(B)": 0.405, "metrics/mAP50(B)": 0.598, "metrics/precision(B)": 0.7}
    assert cross_check(agreeing, coco) == (agreeing, None)
    emptied = {"metrics/mAP50-95(B)": 0.0, "metrics/mAP50(B)": 0.0}  # val labels emptied, val.json intact
    block, reason = cross_check(emptied, coco)
    assert block == {} and "mAP50-95(B)" in reason and "0.4100" in reason
    # a gap on the COCO side is not a disagreement
    assert cross_check(agreeing, {"bbox": {"AP": None, "AP50": None}}) == (agreeing, None)


def test_table7_prints_the_optimizer_that_ran(tmp_path):
    import csv

    from yolov12.report.cells import Ctx
    from yolov12.report.data import load_results
    from yolov12.report.recipe_table import table7

    (tmp_path / "config.json").write_text(json.dumps({"scales": ["n"], "train": {"recipe": {"optimizer": "auto"}}}))
    cols = ["study", "variant", "scale", "task", "family", "hierarchy", "seed", "run_dir", "model_dir", "converged",
            "AP", "optimizer_ran", "lr0_ran", "momentum_ran"]
    with open(tmp_path / "accuracy.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerow(["scales", "n", "n", "detect", "yolov12", "full", 0, "d", "d", True, 0.3, "AdamW", 0.000714, 0.9])
    table = table7(Ctx(load_results(tmp_path), synthetic=True))
    text = "\n".join(" | ".join(c.text for c in row) for row in table.rows)
    assert "optimizer=auto, ran AdamW" in text, text
    assert "lr0=not set, ran 0.000714" in text, text
    assert "not set" not in text.split("Optimizer")[1].split("\n")[0].replace("not set, ran", ""), text
