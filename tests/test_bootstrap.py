"""Paired bootstrap: the weighted re-accumulation equals pycocotools (full set and explicitly repeated images),
identical models give a zero-width interval at 0, a clearly better model an interval that excludes 0."""

import copy
import json

import numpy as np
import pytest

from yolov12.errors import UserError
from yolov12.evaluate.bootstrap import (METRICS, compare_results, metric_value, model_table, paired_delta,
                                        paired_top1_delta, resample_weights)
from yolov12.evaluate.cocoeval import pycocotools_eval, score

N_IMAGES = 40


def make_gt(n_images=N_IMAGES, seed=0):
    """Images of 640x480 with 0-6 boxes of three categories, sizes spanning COCO's small/medium/large areas."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(1, n_images + 1):
        images.append({"id": i, "file_name": f"{i:06d}.png", "width": 640, "height": 480})
        for _ in range(rng.integers(0, 7)):
            w, h = rng.choice([12.0, 50.0, 160.0]) * rng.uniform(0.7, 1.3, 2)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(rng.choice([1, 3, 7])),
                         "bbox": [x, y, w, h], "area": w * h, "iscrowd": int(rng.uniform() < 0.03),
                         "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
    return {"images": images, "annotations": anns, "categories": [{"id": c, "name": str(c)} for c in (1, 3, 7)]}


def predictions(gt, jitter, seed, miss=0.0, extra=0.0):
    """GT boxes moved by ``jitter`` x their size, some missed, some false positives, random scores."""
    rng = np.random.default_rng(seed)
    out = []
    for a in gt["annotations"]:
        if rng.uniform() < miss:
            continue
        x, y, w, h = a["bbox"]
        box = [x + rng.normal(0, jitter) * w, y + rng.normal(0, jitter) * h, w * (1 + rng.normal(0, jitter)),
               h * (1 + rng.normal(0, jitter))]
        out.append({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": box,
                    "score": float(rng.uniform(0.3, 1.0))})
        if rng.uniform() < extra:  # a false positive somewhere else in the image
            out.append({"image_id": a["image_id"], "category_id": a["category_id"],
                        "bbox": [rng.uniform(0, 500), rng.uniform(0, 400), w, h], "score": float(rng.uniform(0, 0.9))})
    return out


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    gt = make_gt()
    path = tmp_path_factory.mktemp("boot") / "gt.json"
    path.write_text(json.dumps(gt))
    return {"gt": gt, "path": path, "good": predictions(gt, 0.02, 1), "bad": predictions(gt, 0.15, 2, 0.2, 0.3)}


@pytest.mark.parametrize("metric", list(METRICS))
def test_full_set_value_is_the_toolkit_value(case, metric):
    r = paired_delta(case["path"], case["bad"], case["good"], metric=metric, n_boot=2)
    for preds, value in ((case["bad"], r["value_a"]), (case["good"], r["value_b"])):
        assert value == pytest.approx(score(case["path"], preds, "bbox")[metric], abs=1e-12)
    assert r["delta"] == pytest.approx(r["value_b"] - r["value_a"], abs=1e-15)


def repeated(gt, preds, counts):
    """The image set with image i present counts[i] times (new ids, copies adjacent, in image order)."""
    images, anns, out, new_id = [], [], [], 0
    by_image = {}
    for p in preds:
        by_image.setdefault(p["image_id"], []).append(p)
    gt_by_image = {}
    for a in gt["annotations"]:
        gt_by_image.setdefault(a["image_id"], []).append(a)
    for im, n in zip(gt["images"], counts):
        for _ in range(n):
            new_id += 1
            images.append({**im, "id": new_id})
            for a in gt_by_image.get(im["id"], []):
                anns.append({**a, "id": len(anns) + 1, "image_id": new_id})
            out += [{**p, "image_id": new_id} for p in by_image.get(im["id"], [])]
    return {**gt, "images": images, "annotations": anns}, out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_accumulation_equals_pycocotools_on_repeated_images(case, seed, tmp_path):
    """The resample's AP computed from image weights equals pycocotools run on the images actually repeated."""
    counts = resample_weights(N_IMAGES, 1, seed)[0]
    assert counts.max() > 1 and (counts == 0).any()  # repeats and absences both exercised
    big_gt, big_preds = repeated(case["gt"], case["bad"], counts)
    (tmp_path / "big.json").write_text(json.dumps(big_gt))
    ev = pycocotools_eval(case["gt"], case["bad"], "bbox")
    ev.evaluate()
    for metric, (thr, area) in METRICS.items():
        tables = model_table(ev, area)
        index = slice(None) if thr is None else np.flatnonzero(np.isclose(ev.params.iouThrs, thr))
        ours = metric_value(tables, counts, ev.params.recThrs, index)
        assert ours == pytest.approx(score(tmp_path / "big.json", big_preds, "bbox")[metric], abs=1e-12), metric


def test_identical_predictions_give_a_zero_width_interval_at_zero(case):
    r = paired_delta(case["path"], case["bad"], copy.deepcopy(case["bad"]), n_boot=200)
    assert r["delta"] == 0.0 and r["lo"] == 0.0 and r["hi"] == 0.0
    assert r["n_images"] == N_IMAGES and r["n_boot"] == 200 and r["metric"] == "AP" and r["iou_type"] == "bbox"


def test_a_clearly_better_model_gives_an_interval_that_excludes_zero(case):
    r = paired_delta(case["path"], case["bad"], case["good"], n_boot=300, seed=3)
    assert r["lo"] > 0 and r["lo"] <= r["delta"] <= r["hi"]
    swapped = paired_delta(case["path"], case["good"], case["bad"], n_boot=300, seed=3)
    assert swapped["hi"] < 0 and swapped["delta"] == pytest.approx(-r["delta"], abs=1e-12)


def test_masks_and_an_empty_model(case):
    gt = case["gt"]
    r = paired_delta(gt, [], case["good"], iou_type="segm", n_boot=50)
    assert r["value_a"] == 0.0 and r["value_b"] > 0.5 and r["lo"] > 0


def pose_case(n_images=30, seed=0):
    """Persons with COCO's 17 keypoints, and two prediction sets (keypoints jittered by 2% and 30% of the box)."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(1, n_images + 1):
        images.append({"id": i, "file_name": f"{i}.png", "width": 640, "height": 480})
        for _ in range(rng.integers(0, 4)):
            w, h = rng.uniform(40, 200, 2)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            kpts = np.stack([rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17), np.full(17, 2.0)], 1)
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1, "bbox": [x, y, w, h], "area": w * h,
                         "iscrowd": 0, "keypoints": kpts.ravel().tolist(), "num_keypoints": 17})
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}

    def preds(noise, seed):
        r = np.random.default_rng(seed)
        out = []
        for a in anns:
            k = np.asarray(a["keypoints"], float).reshape(17, 3)
            k[:, :2] += r.normal(0, noise, (17, 2)) * np.array(a["bbox"][2:])
            out.append({"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "keypoints": k.ravel().tolist(),
                        "score": float(r.uniform(0.2, 1))})
        return out

    return gt, preds(0.02, 1), preds(0.3, 2)


def test_keypoints_match_the_toolkit_on_the_full_set_and_repeated_images(tmp_path):
    gt, good, bad = pose_case()
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    r = paired_delta(tmp_path / "gt.json", bad, good, iou_type="keypoints", n_boot=200)
    assert r["value_a"] == pytest.approx(score(tmp_path / "gt.json", bad, "keypoints")["AP"], abs=1e-12)
    assert r["value_b"] == pytest.approx(score(tmp_path / "gt.json", good, "keypoints")["AP"], abs=1e-12)
    assert r["lo"] > 0
    counts = resample_weights(len(gt["images"]), 1, 4)[0]
    big_gt, big_preds = repeated(gt, bad, counts)
    (tmp_path / "big.json").write_text(json.dumps(big_gt))
    ev = pycocotools_eval(gt, bad, "keypoints", sigmas=score(tmp_path / "gt.json", bad, "keypoints")["kpt_oks_sigmas"])
    ev.evaluate()
    ours = metric_value(model_table(ev, "all"), counts, ev.params.recThrs, slice(None))
    assert ours == pytest.approx(score(tmp_path / "big.json", big_preds, "keypoints")["AP"], abs=1e-12)


def test_top1_delta_from_per_image_outcomes():
    rng = np.random.default_rng(0)
    files = [f"{i}.png" for i in range(300)]
    a = [{"file": f, "correct": bool(rng.uniform() < 0.6)} for f in files]
    b = [{"file": f, "correct": r["correct"] or bool(rng.uniform() < 0.5)} for f, r in zip(files, a)]
    same = paired_top1_delta(a, copy.deepcopy(a), n_boot=100)
    assert same["delta"] == same["lo"] == same["hi"] == 0.0
    better = paired_top1_delta(a, b, n_boot=500)
    assert better["delta"] == pytest.approx(np.mean([r["correct"] for r in b]) - np.mean([r["correct"] for r in a]))
    assert 0 < better["lo"] < better["delta"] < better["hi"]
    with pytest.raises(UserError, match="records_b: the two runs scored different images"):
        paired_top1_delta(a, b[:-1])


def test_compare_results_reads_two_evaluation_results(case, tmp_path):
    def result(name, preds):
        path = tmp_path / f"{name}.predictions.json"
        path.write_text(json.dumps(preds))
        return {"task": "detect", "subset": False, "settings": {"max_det": 100}, "predictions": str(path),
                "dataset": {"gt": str(case["path"]), "gt_sha256": "x"}}

    a, b = result("a", case["bad"]), result("b", case["good"])
    assert compare_results(a, b, n_boot=50)["delta"] == pytest.approx(
        paired_delta(case["path"], case["bad"], case["good"], n_boot=2)["delta"])
    with pytest.raises(UserError, match="different ground truths"):
        compare_results(a, {**b, "dataset": {"gt": "other.json", "gt_sha256": "y"}})
    with pytest.raises(UserError, match="subset"):
        compare_results(a, {**b, "subset": True})


@pytest.mark.parametrize("kwargs, message", [
    ({"metric": "mAP"}, "metric: metric 'mAP'; allowed: AP, AP50"),
    ({"n_boot": 0}, "n_boot: n_boot 0; allowed: integers >= 1"),
    ({"level": 1.5}, "level: level 1.5; allowed: a coverage in"),
    ({"iou_type": "mask"}, "iou_type: iou_type 'mask'; allowed: bbox, keypoints, segm"),
], ids=["metric", "n_boot", "level", "iou_type"])
def test_bad_arguments_are_one_line_errors(case, kwargs, message):
    with pytest.raises(UserError) as err:
        paired_delta(case["path"], case["bad"], case["good"], **kwargs)
    assert str(err.value).startswith(message)


# ------------------------------------------------------------------------------------------ seeds and images
def write_eval(root, run_dir, gt_path, preds):
    """An evaluate() result as the workflow stores it (runs/<run_dir>/eval.json with its saved predictions)."""
    folder = root / "runs" / run_dir
    folder.mkdir(parents=True)
    (folder / "predictions.json").write_text(json.dumps(preds))
    result = {"task": "detect", "subset": False, "settings": {"max_det": 100},
              "predictions": str(folder / "predictions.json"), "dataset": {"gt": str(gt_path), "gt_sha256": "x"}}
    (folder / "eval.json").write_text(json.dumps(result))
    return result


def test_seed_means_with_one_seed_each_are_the_verified_paired_bootstrap(case, tmp_path):
    from yolov12.evaluate.bootstrap import seeds_delta

    a = write_eval(tmp_path, "a", case["path"], case["bad"])
    b = write_eval(tmp_path, "b", case["path"], case["good"])
    one = seeds_delta({"a": a}, {"b": b}, n_boot=200)
    ref = compare_results(a, b, n_boot=200)
    assert one["interval"] == "image-only" and one["method"] == ref["method"]
    assert (one["delta"], one["lo"], one["hi"]) == pytest.approx((ref["delta"], ref["lo"], ref["hi"]), abs=1e-12)


def test_paired_deltas_one_row_of_seed_means_per_variant(case, tmp_path):
    """deltas.py: each variant against the baseline's seed MEAN, seeds + images when both have two seeds,
    image-only with one, the diverged seed left out, the baseline seeds' spread beside it."""
    from types import SimpleNamespace

    from yolov12.workflow.deltas import paired_deltas

    gt = case["gt"]
    runs = {("base", 0): predictions(gt, 0.05, 10), ("base", 1): predictions(gt, 0.07, 11, 0.05),
            ("one", 0): predictions(gt, 0.15, 12, 0.2, 0.3),
            ("two", 0): predictions(gt, 0.03, 13), ("two", 1): predictions(gt, 0.04, 14), ("two", 2): []}
    accuracy = []
    for (variant, seed), preds in runs.items():
        run_dir = f"{variant}-s{seed}"
        write_eval(tmp_path, run_dir, case["path"], preds)
        ap = score(case["path"], preds, "bbox")["AP"] if preds else None
        accuracy.append({"study": "st", "variant": variant, "scale": "n", "task": "detect", "seed": seed,
                         "run_dir": run_dir, "model_dir": f"{variant}-s0", "converged": bool(preds), "AP": ap})
    plan = SimpleNamespace(results=str(tmp_path), config={"bootstrap": {"n_boot": 200, "level": 0.95}})
    rows = paired_deltas(plan, {"studies": [{"study": "st", "baselines": {"n": "base"}}]}, accuracy)
    ap = {(r["variant"], r["seed"]): r["AP"] for r in accuracy}
    base = (ap["base", 0] + ap["base", 1]) / 2
    assert [(r["variant"], r["seeds"], r["baseline_seeds"], r["interval"]) for r in rows] == [
        ("one", "0", "0;1", "image-only"), ("two", "0;1", "0;1", "seeds+images")]
    for r, mine in zip(rows, ([ap["one", 0]], [ap["two", 0], ap["two", 1]])):
        assert r["baseline_value"] == pytest.approx(base, abs=1e-12) and r["value"] == pytest.approx(np.mean(mine))
        assert r["delta"] == pytest.approx(r["value"] - r["baseline_value"], abs=1e-15)  # one source, it subtracts
        assert r["ci_lo"] <= r["delta"] <= r["ci_hi"] and 0 <= r["p_value"] <= 1
        assert r["seed_spread"] == pytest.approx(abs(ap["base", 0] - ap["base", 1]))
        assert r["n_images"] == N_IMAGES and r["n_boot"] == 200
    assert rows[0]["ci_hi"] < 0  # a clearly worse model, even on one seed
    assert rows[1]["df"] < float("inf") and rows[1]["se_seeds"] > 0
