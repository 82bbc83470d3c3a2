"""Paired bootstrap of a metric difference between two models on the same validation images (docs/bootstrap.md).

The images are resampled with replacement; both models are scored on the same resample, so what varies between
resamples is which images are in the set, and the interval of ``metric(b) - metric(a)`` says how much the difference
depends on that choice. COCO AP is not a mean over images (it ranks every detection of the set together), so each
resample needs a full accumulation; done naively (pycocotools' ``evaluate()`` + ``accumulate()`` per resample) that is
minutes per thousand resamples. Here the toolkit's per-image matching (``COCOeval.evaluate()``) runs once per model,
and each resample re-accumulates from it with image weights (how often each image was drawn):

- per category, the detections of all images are sorted by score once (pycocotools' order: image order, then a
  stable sort by descending score);
- a resample gives each detection its image's weight; the cumulative true and false positives are weighted sums,
  the number of ground-truth objects is the weighted sum per image;
- precision/recall, the monotone precision envelope and the 101 recall thresholds follow ``accumulate()`` exactly.

A detection drawn *w* times in pycocotools' own accumulation of the repeated images is *w* adjacent entries of equal
score; their intermediate precision/recall points never change the interpolated curve (within a run of true
positives precision rises, within a run of false positives recall is flat), so the weighted sums give the same AP.
``tests/test_bootstrap.py`` checks this against pycocotools on explicitly duplicated images. (Two detections with
*exactly* equal scores in one image may be ordered differently among their copies; that changes nothing unless one is
a true and the other a false positive.) pycocotools' ``accumulate(p)`` cannot be given a resampled image list
directly: it looks images up by their position in the list it evaluated, so repeated or reordered ids would score
the wrong images.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..registry import TASK_TABLE
from ..settings import BOOTSTRAP
from .cocoeval import STATS, keypoint_sigmas, load_gt, pycocotools_eval

# metric -> (IoU threshold, None = all ten; area range label)
METRICS = {"AP": (None, "all"), "AP50": (0.5, "all"), "AP75": (0.75, "all"), "AP_small": (None, "small"),
           "AP_medium": (None, "medium"), "AP_large": (None, "large")}
METHOD = "paired percentile bootstrap over validation images"
SEEDS_METHOD = ("two-level: seeds (t, Welch-Satterthwaite df) and validation images (paired bootstrap), "
                "seed means")


class ModelTable:
    """One model's detections over the whole image set: category by category, each in pycocotools' accumulation
    order, with what a resample needs to re-accumulate them (image of each detection, objects per image)."""

    def __init__(self, tp: np.ndarray, ignored: np.ndarray, image: np.ndarray, category: np.ndarray,
                 objects: np.ndarray):
        self.tp_at = [np.flatnonzero(row) for row in tp]  # per IoU threshold: positions of the true positives
        self.ignored_at = [np.flatnonzero(row) for row in ignored]  # ... of detections counted as neither
        self.image, self.category = image, category  # (N,) image index and category index of each detection
        self.objects = objects  # (K, I) non-ignored ground-truth objects per category and image
        counts = np.bincount(category, minlength=objects.shape[0])
        self.seg_end = np.cumsum(counts)
        self.seg_start = self.seg_end - counts


def model_table(ev, area: str) -> ModelTable:
    """The table of a COCOeval after ``evaluate()``, for area range ``area`` and the largest maxDets."""
    p = ev.params
    n_img, n_area, n_cat = len(p.imgIds), len(p.areaRng), len(p.catIds) if p.useCats else 1
    a = list(p.areaRngLbl).index(area)
    max_det = p.maxDets[-1]
    tps, ignores, images, categories = [], [], [], []
    objects = np.zeros((n_cat, n_img), dtype=np.int64)
    for k in range(n_cat):
        scores, matched, ignored, image = [], [], [], []
        for i in range(n_img):
            e = ev.evalImgs[k * n_area * n_img + a * n_img + i]
            if e is None:
                continue
            scores.append(np.asarray(e["dtScores"][:max_det], dtype=float))
            matched.append(e["dtMatches"][:, :max_det])
            ignored.append(e["dtIgnore"][:, :max_det])
            image.append(np.full(len(scores[-1]), i, dtype=np.int64))
            objects[k, i] = np.count_nonzero(e["gtIgnore"] == 0)
        if not scores:
            continue
        order = np.argsort(-np.concatenate(scores), kind="mergesort")  # as accumulate() sorts
        dtm, dtig = np.concatenate(matched, axis=1)[:, order], np.concatenate(ignored, axis=1)[:, order] != 0
        tp = np.logical_and(dtm, np.logical_not(dtig))
        # Detections after the category's last true positive never change its curve, whatever the weights: there
        # precision only falls and recall stays. At conf 0.001 that low-score tail is most of the detections.
        keep = np.flatnonzero(tp.any(axis=0))
        n = keep[-1] + 1 if len(keep) else 0
        tps.append(tp[:, :n])
        ignores.append(dtig[:, :n])
        images.append(np.concatenate(image)[order[:n]])
        categories.append(np.full(n, k, dtype=np.int64))
    if not tps:
        none = np.zeros((len(p.iouThrs), 0), dtype=bool)
        return ModelTable(none, none, np.zeros(0, np.int64), np.zeros(0, np.int64), objects)
    return ModelTable(np.concatenate(tps, axis=1), np.concatenate(ignores, axis=1), np.concatenate(images),
                      np.concatenate(categories), objects)


def min_count(n_objects: np.ndarray, rec_thrs: np.ndarray) -> np.ndarray:
    """(K, R): the least true-positive count k with ``k / n >= threshold`` in float64, as pycocotools compares
    ``tp / npig`` with its recall thresholds (so integer counts can be searched instead of rounded ratios)."""
    n = np.maximum(n_objects, 1)[:, None]
    k = np.ceil(rec_thrs[None, :] * n).astype(np.int64)
    for _ in range(2):  # the float product can be a unit off either way; division decides, as in the toolkit
        k = np.where((k > 0) & ((k - 1) / n >= rec_thrs[None, :]), k - 1, k)
        k = np.where(k / n < rec_thrs[None, :], k + 1, k)
    return k


def _counter(positions: np.ndarray, weights: np.ndarray):
    """f(x) = the weighted number of ``positions`` at or before index x (x = -1: none)."""
    running = np.concatenate([[0.0], np.cumsum(weights[positions])])
    return lambda x: running[np.searchsorted(positions, x, side="right")]


def metric_value(table: ModelTable, weights: np.ndarray, rec_thrs: np.ndarray, thr_rows) -> float:
    """The metric for image weights: the mean, over categories with objects, of the interpolated precision at the
    selected IoU thresholds and the recall thresholds (pycocotools' -1 categories excluded).

    Equal to pycocotools' ``accumulate()`` on the images repeated as weighted, computed from the true positives only:
    the running counts change only there (false positives are what is left of all detections), the first position
    reaching a recall threshold is a true positive, and the precision envelope's maximum over a stretch is at its
    start or at a true positive, because precision only falls in between."""
    n_objects = table.objects @ weights  # (K,)
    valid = n_objects > 0
    if not valid.any():
        return -1.0
    n_cat = len(n_objects)
    thresholds = np.arange(len(table.tp_at))[thr_rows]
    q = np.zeros((len(thresholds), n_cat, len(rec_thrs)))
    w = weights[table.image].astype(float)
    if not len(w):
        return float(q[:, valid].mean())
    seen = np.concatenate([[0.0], np.cumsum(w)])  # weighted detections at or before x: seen[x + 1]
    nonempty = table.seg_end > table.seg_start
    k = min_count(n_objects, rec_thrs)  # (K, R) true positives needed per recall threshold
    for row, t in enumerate(thresholds):
        at = table.tp_at[t]
        if not len(at):  # no true positive: every precision is 0
            continue
        tp_of, ignored_of = _counter(at, w), _counter(table.ignored_at[t], w)

        def local(x, c):  # (tp, fp) counted from the start of category c up to and including index x
            before = table.seg_start[c] - 1
            tp, tp0 = tp_of(x), tp_of(before)
            fp = seen[x + 1] - tp - ignored_of(x)
            fp0 = seen[before + 1] - tp0 - ignored_of(before)
            return tp - tp0, fp - fp0

        cat_at = table.category[at]
        tp, fp = local(at, cat_at)
        pr = tp / (fp + tp + np.spacing(1))  # accumulate()'s precision, float for float
        # suffix maximum within each category: NumPy's complex max is lexicographic, so a real part growing at
        # each category boundary (walking backwards) restarts it; exact, the precision itself is never offset
        rank = (n_cat - 1 - cat_at).astype(float)
        best = np.maximum.accumulate((rank + 1j * pr)[::-1])[::-1].imag
        # recall threshold r of category c is first reached at the true positive whose running count (from the
        # category start) reaches k[c, r]; the counts rise with the index, so one sorted search finds them all
        j = np.minimum(np.searchsorted(tp_of(at), tp_of(table.seg_start - 1)[:, None] + k, side="left"), len(at) - 1)
        found = (k > 0) & (tp_of(at)[j] >= tp_of(table.seg_start - 1)[:, None] + k) & (at[j] < table.seg_end[:, None])
        q[row] = np.where(found, best[j], 0.0)
        # k = 0 (recall threshold 0) is reached at the category's first detection, whatever it is: the envelope
        # there is the larger of its precision and the best true positive after it
        cats = np.flatnonzero((k == 0).any(axis=1) & nonempty)
        if len(cats):
            tp0, fp0 = local(table.seg_start[cats], cats)
            jf = np.minimum(np.searchsorted(at, table.seg_start[cats], side="left"), len(at) - 1)
            later = (at[jf] >= table.seg_start[cats]) & (at[jf] < table.seg_end[cats])
            first = np.where(later, np.maximum(tp0 / (fp0 + tp0 + np.spacing(1)), best[jf]), 0.0)
            q[row][cats] = np.where(k[cats] == 0, first[:, None], q[row][cats])
    return float(q[:, valid].mean())


def _read(preds, what: str) -> list[dict[str, Any]]:
    if isinstance(preds, (str, Path)):
        try:
            return json.loads(Path(preds).read_text())
        except FileNotFoundError:
            raise UserError("predictions file not found", file=preds, key=what,
                            allowed="the *.predictions.json that 'yolov12 val --out' writes") from None
        except json.JSONDecodeError as e:
            raise UserError(f"not valid JSON ({e.msg})", file=f"{preds}:{e.lineno}", key=what) from None
    return list(preds)


def check_arguments(metric: str, iou_type: str, n_boot: int, level: float) -> None:
    if metric not in METRICS:
        raise UserError(f"metric {metric!r}", key="metric", allowed=list(METRICS))
    if iou_type not in STATS:
        raise UserError(f"iou_type {iou_type!r}", key="iou_type", allowed=list(STATS))
    if iou_type == "keypoints" and METRICS[metric][1] == "small":
        raise UserError("keypoint evaluation has no small area range", key="metric",
                        allowed=[m for m in METRICS if m != "AP_small"])
    if not isinstance(n_boot, int) or isinstance(n_boot, bool) or n_boot < 1:
        raise UserError(f"n_boot {n_boot!r}", key="n_boot", allowed="integers >= 1")
    if not 0 < level < 1:
        raise UserError(f"level {level!r}", key="level", allowed="a coverage in (0, 1), e.g. 0.95")


def interval(values: np.ndarray, level: float) -> tuple[float, float]:
    a = (1 - level) / 2
    return float(np.quantile(values, a)), float(np.quantile(values, 1 - a))


def resample_weights(n_images: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_images) counts: how often each image was drawn in each resample (n_images draws each)."""
    draws = np.random.default_rng(seed).integers(0, n_images, size=(n_boot, n_images))
    return np.stack([np.bincount(row, minlength=n_images) for row in draws])


def paired_delta(gt, preds_a, preds_b, iou_type: str = "bbox", metric: str = "AP", n_boot: int = BOOTSTRAP.n_boot,
                 level: float = BOOTSTRAP.level, seed: int = 0, max_dets: int = 100,
                 kpt_sigmas: list[float] | None = None) -> dict[str, Any]:
    """``metric(b) - metric(a)`` on the full image set and its paired-bootstrap interval.

    gt: COCO ground truth (path or dict); preds_a / preds_b: COCO results (list or path to JSON), e.g. the
    ``predictions`` files of two ``yolov12 val`` results on the same ground truth.
    """
    check_arguments(metric, iou_type, n_boot, level)
    gt_json = load_gt(gt) if isinstance(gt, (str, Path)) else gt
    preds = [_read(preds_a, "preds_a"), _read(preds_b, "preds_b")]
    sigmas = None
    if iou_type == "keypoints":
        with_kpts = next((p for p in preds if p), None)
        sigmas = keypoint_sigmas(with_kpts, kpt_sigmas) if with_kpts else kpt_sigmas
    thr, area = METRICS[metric]
    tables, params = [], None
    for p in preds:
        ev = pycocotools_eval(gt_json, p, iou_type, sigmas, max_dets)
        with contextlib.redirect_stdout(io.StringIO()):
            ev.evaluate()
        tables.append(model_table(ev, area))
        params = ev.params
    thr_index = slice(None) if thr is None else np.flatnonzero(np.isclose(params.iouThrs, thr))
    n_images = len(params.imgIds)
    full = np.ones(n_images, dtype=np.int64)
    value_a, value_b = (metric_value(t, full, params.recThrs, thr_index) for t in tables)
    if value_a < 0:  # the toolkit's -1: no ground-truth object in this area range, nothing to compare
        from .cocoeval import NO_OBJECTS

        return {"metric": metric, "iou_type": iou_type, "value_a": None, "value_b": None, "delta": None, "lo": None,
                "hi": None, "level": level, "n_boot": n_boot, "n_images": n_images, "seed": seed, "method": METHOD,
                "gap": NO_OBJECTS}
    weights = resample_weights(n_images, n_boot, seed)
    deltas = np.array([metric_value(tables[1], w, params.recThrs, thr_index)
                       - metric_value(tables[0], w, params.recThrs, thr_index) for w in weights])
    lo, hi = interval(deltas, level)
    return {"metric": metric, "iou_type": iou_type, "value_a": value_a, "value_b": value_b,
            "delta": value_b - value_a, "lo": lo, "hi": hi, "level": level, "n_boot": n_boot, "n_images": n_images,
            "seed": seed, "method": METHOD}


def paired_top1_delta(records_a, records_b, n_boot: int = BOOTSTRAP.n_boot, level: float = BOOTSTRAP.level,
                      seed: int = 0) -> dict[str, Any]:
    """Top-1 accuracy ``b - a`` and its paired-bootstrap interval from per-image outcomes (the classification
    ``predictions`` files of two ``yolov12 val`` results: ``{file, target, top5, correct}`` per image)."""
    check_arguments("AP", "bbox", n_boot, level)
    a, b = ({r["file"]: bool(r["correct"]) for r in _read(recs, what)}
            for recs, what in ((records_a, "records_a"), (records_b, "records_b")))
    if set(a) != set(b):
        odd = sorted(set(a) ^ set(b))
        raise UserError(f"the two runs scored different images ({len(odd)} differ, e.g. {odd[:3]})", key="records_b",
                        allowed="outcomes of two models on the same validation images")
    files = sorted(a)
    diff = np.array([b[f] for f in files], dtype=float) - np.array([a[f] for f in files], dtype=float)
    weights = resample_weights(len(files), n_boot, seed)
    lo, hi = interval(weights @ diff / len(files), level)
    value_a, value_b = float(np.mean([a[f] for f in files])), float(np.mean([b[f] for f in files]))
    return {"metric": "top1", "iou_type": None, "value_a": value_a, "value_b": value_b, "delta": value_b - value_a,
            "lo": lo, "hi": hi, "level": level, "n_boot": n_boot, "n_images": len(files), "seed": seed,
            "method": METHOD}


def _load_results(results, what: str) -> tuple[list[dict[str, Any]], str]:
    """evaluate() results (dicts or eval.json paths) checked to be comparable: one task, one ground truth (SHA-256),
    every image scored, predictions saved. Returns them and the task."""
    results = [json.loads(Path(r).read_text()) if isinstance(r, (str, Path)) else r for r in results]
    tasks = {r["task"] for r in results}
    if len(tasks) != 1:
        raise UserError(f"the results are of different tasks {sorted(tasks)}", key=what,
                        allowed="results of the same task and dataset")
    if len({r["dataset"].get("gt_sha256") for r in results}) != 1:
        raise UserError("the results were scored against different ground truths", file=results[-1]["dataset"]["gt"],
                        key=what, allowed="results on the same ground truth")
    if any(r.get("subset") for r in results):
        raise UserError("a result scored a subset of the images", key=what,
                        allowed="results that evaluated every ground-truth image")
    for r in results:
        if not r.get("predictions"):
            raise UserError("the result has no saved predictions (evaluate with out=...)", key=what)
    return results, tasks.pop()


def _iou_type(task: str, iou_type: str | None) -> str:
    if not TASK_TABLE[task].iou_types:
        raise UserError(f"no COCO-toolkit metric for task {task}", key="task",
                        allowed=[t.name for t in TASK_TABLE.values() if t.iou_types])
    return iou_type or TASK_TABLE[task].headline_iou_type


def compare_results(result_a, result_b, metric: str = "AP", iou_type: str | None = None, n_boot: int = BOOTSTRAP.n_boot,
                    level: float = BOOTSTRAP.level, seed: int = 0) -> dict[str, Any]:
    """Paired bootstrap between two ``evaluate()`` results (dicts or eval.json paths) of the same task and ground
    truth. iou_type: bbox / segm / keypoints (None: the task's last, i.e. masks for segment, keypoints for pose)."""
    results, task = _load_results([result_a, result_b], "result_b")
    if TASK_TABLE[task].classification:
        return paired_top1_delta(results[0]["predictions"], results[1]["predictions"], n_boot, level, seed)
    iou_type = _iou_type(task, iou_type)
    max_dets = results[0]["settings"].get("max_det", 100)
    return paired_delta(results[0]["dataset"]["gt"], results[0]["predictions"], results[1]["predictions"],
                        iou_type, metric, n_boot, level, seed, max_dets)


# ------------------------------------------------------------------------------------------ seeds and images
class Resampled:
    """Checkpoints scored on the full image set and on the same image resamples (``resample_weights`` of one seed),
    each computed once: a baseline's seeds are shared by every variant compared with it."""

    def __init__(self, metric: str = "AP", iou_type: str | None = None, n_boot: int = BOOTSTRAP.n_boot, seed: int = 0):
        check_arguments(metric if metric != "top1" else "AP", iou_type or "bbox", n_boot, 0.95)
        self.metric, self.iou_type, self.n_boot, self.seed = metric, iou_type, n_boot, seed
        self._values: dict[str, tuple[float, np.ndarray]] = {}
        self._weights: dict[int, np.ndarray] = {}
        self._gt: dict[str, dict] = {}
        self.n_images: int | None = None

    def weights(self, n_images: int) -> np.ndarray:
        if n_images not in self._weights:
            self._weights[n_images] = resample_weights(n_images, self.n_boot, self.seed)
        return self._weights[n_images]

    def values(self, key: str, result: dict[str, Any]) -> tuple[float, np.ndarray]:
        """(metric on the full set, (n_boot,) metric on each resample) of one result; ``key`` names it (run dir)."""
        if key not in self._values:
            task = result["task"]
            if TASK_TABLE[task].classification:
                records = sorted(_read(result["predictions"], key), key=lambda r: r["file"])
                correct = np.array([bool(r["correct"]) for r in records], dtype=float)
                n = len(correct)
                full, boot = float(correct.mean()), self.weights(n) @ correct / n
            else:
                iou_type = _iou_type(task, self.iou_type)
                path = str(result["dataset"]["gt"])
                if path not in self._gt:
                    self._gt[path] = load_gt(path)
                gt = self._gt[path]
                preds = _read(result["predictions"], key)
                sigmas = keypoint_sigmas(preds, None) if iou_type == "keypoints" and preds else None
                ev = pycocotools_eval(gt, preds, iou_type, sigmas, result["settings"].get("max_det", 100))
                with contextlib.redirect_stdout(io.StringIO()):
                    ev.evaluate()
                thr, area = METRICS[self.metric]
                table, p = model_table(ev, area), ev.params
                rows = slice(None) if thr is None else np.flatnonzero(np.isclose(p.iouThrs, thr))
                n = len(p.imgIds)
                full = metric_value(table, np.ones(n, dtype=np.int64), p.recThrs, rows)
                boot = np.array([metric_value(table, w, p.recThrs, rows) for w in self.weights(n)])
            if self.n_images not in (None, n):
                raise UserError(f"{key} scored {n} images, the others {self.n_images}", key=key,
                                allowed="checkpoints evaluated on the same validation images")
            self.n_images = n
            self._values[key] = (full, boot)
        return self._values[key]


def seeds_delta(results_a: dict[str, Any], results_b: dict[str, Any], metric: str = "AP",
                iou_type: str | None = None, n_boot: int = BOOTSTRAP.n_boot, level: float = BOOTSTRAP.level,
                seed: int = 0,
                resampled: Resampled | None = None) -> dict[str, Any]:
    """``mean over b's seeds - mean over a's seeds`` of a metric, with the interval of
    ``yolov12.stats.seed_image_interval``: seeds and images (two levels) when both sides have at least two seeds,
    image-only (the paired bootstrap of the seed means) otherwise.

    results_a / results_b: {name (e.g. run dir): evaluate() result or eval.json path}, one per seed, all of one task
    and ground truth. Every checkpoint is scored on the same image resamples (paired). ``resampled`` reuses the
    scores of checkpoints already computed (a baseline compared with several variants)."""
    from ..stats import seed_image_interval

    if not results_a or not results_b:
        raise UserError("no result on one side", key="results_a" if not results_a else "results_b",
                        allowed="at least one evaluate() result per side")
    names = list(results_a) + list(results_b)
    loaded, task = _load_results(list(results_a.values()) + list(results_b.values()), "results_b")
    if TASK_TABLE[task].classification:
        metric = "top1"
    res = resampled or Resampled(metric, iou_type, n_boot, seed)
    values = [res.values(k, r) for k, r in zip(names, loaded)]
    na = len(results_a)
    full = np.array([v[0] for v in values])
    boot = np.stack([v[1] for v in values], axis=1)
    out = seed_image_interval(full[:na], full[na:], boot[:, :na], boot[:, na:], level)
    return {"metric": metric, "iou_type": None if TASK_TABLE[task].classification else _iou_type(task, res.iou_type),
            "values_a": full[:na].tolist(), "values_b": full[na:].tolist(), "value_a": float(full[:na].mean()),
            "value_b": float(full[na:].mean()), **out, "level": level, "n_boot": res.n_boot,
            "n_images": res.n_images, "seed": res.seed,
            "method": SEEDS_METHOD if out["interval"] == "seeds+images" else METHOD}
