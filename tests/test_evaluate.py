"""COCO-toolkit evaluation: known answers, backend agreement, bad input, and the synthetic set end to end."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

import yolov12
from tiny_data import copy_dataset, untrained_checkpoint
from yolov12.data.synth import generate
from yolov12.evaluate import evaluate, iou_types
from yolov12.evaluate.cocoeval import BACKENDS, EvaluationError, score


def square_gt(n=10, size=200):
    """One 400x400 image with n well-separated 20x20 boxes of category 7."""
    images = [{"id": 1, "file_name": "000001.png", "width": 400, "height": 400}]
    anns = []
    for i in range(n):
        x, y = 10 + 38 * i, 10 + 30 * (i % 3)
        anns.append({"id": i + 1, "image_id": 1, "category_id": 7, "bbox": [x, y, 20, 20], "area": 400.0,
                     "iscrowd": 0, "segmentation": [[x, y, x + 20, y, x + 20, y + 20, x, y + 20]]})
    return {"images": images, "annotations": anns, "categories": [{"id": 7, "name": "box"}]}


def write(tmp_path, obj, name="gt.json"):
    p = tmp_path / name
    p.write_text(json.dumps(obj))
    return p


def gt_as_predictions(gt, iou_type):
    preds = []
    h = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    for a in gt["annotations"]:
        p = {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
        if iou_type == "segm":
            rle = mask_utils.merge(mask_utils.frPyObjects(a["segmentation"], *h[a["image_id"]]))
            p["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
        if iou_type == "keypoints":
            p["keypoints"] = a["keypoints"]
        preds.append(p)
    return preds


@pytest.fixture(scope="module")
def synth_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    return {t: generate(root / t, task=t, n_train=4, n_val=6, imgsz=64, max_objects=3, verbose=False)
            for t in ("detect", "segment", "pose")}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("task, iou_type", [("detect", "bbox"), ("segment", "segm"), ("pose", "keypoints")])
def test_ground_truth_scored_against_itself_is_perfect(synth_sets, task, iou_type, backend):
    gt_path = synth_sets[task]["coco_gt"]
    gt = json.loads(Path(gt_path).read_text())
    r = score(gt_path, gt_as_predictions(gt, iou_type), iou_type, backend)
    assert r["AP"] == pytest.approx(1.0) and r["AP50"] == pytest.approx(1.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_half_the_boxes_missed_gives_the_known_ap(tmp_path, backend):
    """5 of 10 boxes exact (score 0.9), 5 moved off their object (IoU 0, score 0.8): recall stops at 0.5 with
    precision 1, so the 101-point interpolated AP is 51/101 at every IoU threshold."""
    gt = square_gt()
    preds = gt_as_predictions(gt, "bbox")
    for i, p in enumerate(preds):
        if i % 2:
            p["bbox"] = [p["bbox"][0], p["bbox"][1] + 200, 20, 20]
            p["score"] = 0.8
        else:
            p["score"] = 0.9
    r = score(write(tmp_path, gt), preds, "bbox", backend)
    assert r["AP"] == pytest.approx(51 / 101, abs=1e-6) and r["AP50"] == pytest.approx(51 / 101, abs=1e-6)
    assert r["AR100"] == pytest.approx(0.5)


def test_backends_agree_on_imperfect_predictions(synth_sets):
    rng = np.random.default_rng(0)
    gt_path = synth_sets["segment"]["coco_gt"]
    gt = json.loads(Path(gt_path).read_text())
    for iou_type in ("bbox", "segm"):
        preds = gt_as_predictions(gt, iou_type)
        for p in preds:
            p["bbox"] = [v + rng.normal(0, 3) for v in p["bbox"]]
            p["score"] = float(rng.uniform(0.1, 1))
        duplicates = copy.deepcopy(preds[::2])  # double detections: false positives at random scores
        for p in duplicates:
            p["score"] = float(rng.uniform(0.1, 1))
        preds += duplicates
        a, b = (score(gt_path, copy.deepcopy(preds), iou_type, be) for be in BACKENDS)
        for key in ("AP", "AP50", "AP75", "AP_small", "AR100"):
            assert abs(a[key] - b[key]) <= 1e-4, (iou_type, key, a[key], b[key])
        assert a["AP"] < 1.0


@pytest.mark.parametrize("key, value, message", [
    ("image_id", 999, r"image id\(s\) in the predictions are not in .*\[999\]"),
    ("category_id", 1, r"category id\(s\) \[1\]"),
])
def test_predictions_for_another_dataset_are_a_clear_error(tmp_path, key, value, message):
    gt = square_gt()
    preds = gt_as_predictions(gt, "bbox")
    preds[0][key] = value
    with pytest.raises(EvaluationError, match=message):
        score(write(tmp_path, gt), preds, "bbox")


def test_empty_predictions_score_zero_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="no predictions"):
        r = score(write(tmp_path, square_gt()), [], "bbox")
    assert r["AP"] == 0.0


def test_missing_or_broken_ground_truth(tmp_path):
    with pytest.raises(EvaluationError, match="does not exist"):
        score(tmp_path / "none.json", [], "bbox")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(EvaluationError, match="not valid JSON"):
        score(tmp_path / "bad.json", [], "bbox")


@pytest.fixture(scope="module")
def trained_detector(tmp_path_factory):
    """yolov12n trained briefly on a one-class synthetic set (real Ultralytics training)."""
    root = tmp_path_factory.mktemp("e2e")
    manifest = generate(root / "data", task="detect", nc=1, n_train=64, n_val=16, imgsz=96, max_objects=3,
                        verbose=False)
    model = yolov12.build("yolov12", "n", nc=1)
    model.train(data=manifest["data"], epochs=15, imgsz=96, batch=8, nbs=8, warmup_epochs=1, workers=0, device="cpu",
                plots=False, project=str(root), name="run", verbose=False, seed=0)
    return Path(model.trainer.best), manifest, root


@pytest.mark.slow
def test_synthetic_end_to_end(trained_detector):
    ckpt, manifest, root = trained_detector
    out = root / "eval" / "result.json"
    r = evaluate(ckpt, manifest["data"], out=out)
    coco, ultra = r["coco"]["bbox"], r["ultralytics"]
    assert coco["AP"] > 0.3 and coco["AP50"] > 0.5  # measured: 0.69 / 0.94 after this 15-epoch run
    # Ultralytics' own matching and interpolation differ slightly from the toolkit's (measured |d| < 0.005)
    assert abs(ultra["metrics/mAP50-95(B)"] - coco["AP"]) <= 0.02
    assert abs(ultra["metrics/mAP50(B)"] - coco["AP50"]) <= 0.02
    on_disk = json.loads(out.read_text())
    assert on_disk["checkpoint"]["sha256"] and on_disk["dataset"]["gt_sha256"]
    assert on_disk["settings"]["conf"] == 0.001 and on_disk["settings"]["max_det"] == 100
    assert Path(on_disk["predictions"]).is_file()
    fast = evaluate(ckpt, manifest["data"], backend="faster-coco-eval")
    assert abs(fast["coco"]["bbox"]["AP"] - coco["AP"]) <= 1e-4


@pytest.mark.slow
def test_checkpoint_for_another_task_is_refused(trained_detector):
    ckpt, manifest, _ = trained_detector
    with pytest.raises(EvaluationError, match="--task: a detect checkpoint cannot be evaluated as segment"):
        evaluate(ckpt, manifest["data"], task="segment")


# ------------------------------------------------------------------------ what a result records (untrained models)
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Synthetic detect, classify and obb sets with untrained checkpoints of their tasks (real Ultralytics runs)."""
    root = tmp_path_factory.mktemp("small")
    sets = {t: generate(root / t, task=t, nc=2, n_train=2, n_val=4, imgsz=64, max_objects=2, verbose=False)["data"]
            for t in ("detect", "segment", "pose", "classify", "obb")}
    pose = {"nc": 1, "kpt_shape": [5, 3]}  # the synthetic pose set: one class (a star), its five tips
    return {t: (d, untrained_checkpoint(root / f"{t}.pt", task=t, **(pose if t == "pose" else {"nc": 2})))
            for t, d in sets.items()}


def test_result_records_counts_precision_settings_and_predictions(small, tmp_path):
    data, ckpt = small["detect"]
    out = tmp_path / "r" / "result.json"
    r = evaluate(ckpt, data, imgsz=64, out=out)
    gt = json.loads(Path(r["dataset"]["gt"]).read_text())
    assert r["counts"] == {"gt_images": 4, "evaluated_images": 4, "gt_instances": len(gt["annotations"]),
                           "evaluated_instances": len(gt["annotations"]), "label_instances": len(gt["annotations"]),
                           "dropped": []}
    assert r["subset"] is False and r["precision"] == "fp32" and r["settings"]["precision"] == "fp32"
    assert r["settings"]["imgsz"] == 64 and r["settings"]["device"] == "cpu"
    assert r["coco"]["bbox"]["n_images"] == 4
    assert json.loads(Path(r["predictions"]).read_text()) is not None and Path(r["predictions"]).parent == out.parent
    assert json.loads(out.read_text())["counts"] == r["counts"]


@pytest.mark.parametrize("task", ["segment", "pose"])
def test_every_coco_task_counts_what_its_toolkit_scores(small, task):
    data, ckpt = small[task]
    r = evaluate(ckpt, data, imgsz=64)
    gt = json.loads(Path(r["dataset"]["gt"]).read_text())
    assert r["counts"]["gt_images"] == r["counts"]["evaluated_images"] == 4 and not r["subset"]
    assert r["counts"]["gt_instances"] == r["counts"]["evaluated_instances"] == len(gt["annotations"])
    assert set(r["coco"]) == set(iou_types(task)) and all(m["n_images"] == 4 for m in r["coco"].values())


def test_allow_subset_scores_the_evaluated_images_and_says_so(small, tmp_path):
    data, ckpt = small["detect"]
    root = copy_dataset(Path(data).parent, tmp_path / "d")
    broken = sorted((root / "images" / "val").glob("*.png"))[1]
    broken.write_bytes(b"\x89PNG garbage")
    with pytest.raises(yolov12.errors.UserError, match="only 3 of 4 ground-truth images"):
        evaluate(ckpt, root / "data.yaml", imgsz=64)
    r = evaluate(ckpt, root / "data.yaml", imgsz=64, allow_subset=True)
    gt = json.loads(Path(r["dataset"]["gt"]).read_text())
    broken_id = next(im["id"] for im in gt["images"] if im["file_name"].endswith(broken.name))
    assert r["subset"] is True and r["counts"]["evaluated_images"] == 3
    assert r["counts"]["dropped"] == [{"file": str(broken), "reason": "not an image in a known format (12 bytes "
                                       "starting 89 50 4e 47 20 67 61 72)"}]
    assert r["counts"]["evaluated_instances"] == sum(a["image_id"] != broken_id for a in gt["annotations"])
    assert r["coco"]["bbox"]["n_images"] == 3  # the toolkit scored the subset, not the dropped image as all-missed


def test_classification_counts_and_per_image_outcomes(small, tmp_path):
    data, ckpt = small["classify"]
    r = evaluate(ckpt, data, imgsz=64, out=tmp_path / "c.json")
    assert r["counts"]["gt_images"] == r["counts"]["evaluated_images"] == 4 and not r["subset"]
    outcomes = json.loads(Path(r["predictions"]).read_text())
    assert len(outcomes) == 4 and all(set(o) == {"file", "target", "top5", "correct"} for o in outcomes)
    top1 = sum(o["correct"] for o in outcomes) / 4
    assert top1 == pytest.approx(r["ultralytics"]["metrics/accuracy_top1"], abs=1e-6)


def test_obb_counts_come_from_the_label_files(small):
    data, ckpt = small["obb"]
    r = evaluate(ckpt, data, imgsz=64)
    c = r["counts"]
    assert c["gt_images"] == c["evaluated_images"] == 4 and c["gt_instances"] == c["evaluated_instances"] > 0
    assert r["coco"] == {} and r["predictions"] is None


@pytest.mark.gpu
def test_auto_precision_validates_in_fp16_on_cuda_and_records_it(small):
    data, ckpt = small["detect"]
    auto = evaluate(ckpt, data, imgsz=64, device="cuda:0", precision="auto")
    fp32 = evaluate(ckpt, data, imgsz=64, device="cuda:0", precision="fp32")
    assert (auto["precision"], fp32["precision"]) == ("fp16", "fp32")
    assert auto["settings"]["device"].startswith("cuda") and auto["counts"] == fp32["counts"]
