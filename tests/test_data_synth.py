"""The synthetic generator: determinism, Ultralytics-loadable labels for every task, COCO ground truth, a real
1-epoch training run per task, and the dataset checker's handling of bad input."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from pycocotools.coco import COCO

import yolov12
from yolov12.errors import UserError
from yolov12.data.check import DatasetError, check_dataset
from yolov12.data.synth import POSE_KEYPOINTS, TASKS, SynthSpec, generate

SMALL = dict(n_train=8, n_val=4, imgsz=64, max_objects=3)


def digest(root: Path, skip=("data.yaml", "dataset.json")) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in skip}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    return {task: (root / task, generate(root / task, task=task, verbose=False, **SMALL)) for task in TASKS}


def test_same_arguments_same_bytes(tmp_path):
    generate(tmp_path / "a", task="segment", verbose=False, **SMALL)
    first = digest(tmp_path / "a", skip=())
    generate(tmp_path / "a", task="segment", verbose=False, **SMALL)  # regenerate in place
    assert digest(tmp_path / "a", skip=()) == first
    generate(tmp_path / "b", task="segment", verbose=False, **SMALL)  # elsewhere: only absolute paths differ
    assert digest(tmp_path / "b") == digest(tmp_path / "a")
    generate(tmp_path / "c", task="segment", verbose=False, **{**SMALL, "seed": 1})
    assert digest(tmp_path / "c") != digest(tmp_path / "a")


def test_bad_spec_is_a_clear_error():
    with pytest.raises(ValueError, match="task 'depth'"):
        SynthSpec(task="depth")
    with pytest.raises(ValueError, match="nc = 9"):
        SynthSpec(nc=9)


@pytest.mark.parametrize("task", [t for t in TASKS if t != "classify"])
def test_labels_load_through_ultralytics_datasets(task, datasets):
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    root, manifest = datasets[task]
    data = check_det_dataset(str(root / "data.yaml"))
    ds = YOLODataset(img_path=data["val"], data=data, task=task, imgsz=64, augment=False)
    labels = ds.get_labels()
    assert len(labels) == SMALL["n_val"]
    assert sum(len(lb["cls"]) for lb in labels) == manifest["counts"]["val"]["instances"] > 0
    if task == "pose":
        assert labels[0]["keypoints"].shape[1:] == (len(POSE_KEYPOINTS), 3)
    if task == "segment":
        assert all(len(s) >= 3 for lb in labels for s in lb["segments"])


def test_classification_tree_loads_through_ultralytics(datasets):
    from ultralytics.cfg import get_cfg
    from ultralytics.data.dataset import ClassificationDataset

    root, manifest = datasets["classify"]
    ds = ClassificationDataset(root=str(root / "val"), args=get_cfg(overrides={"imgsz": 64}), augment=False)
    assert len(ds) == SMALL["n_val"] and ds.base.classes == manifest["names"]


@pytest.mark.parametrize("task", ["detect", "segment", "pose"])
def test_coco_ground_truth_matches_the_labels(task, datasets):
    root, manifest = datasets[task]
    gt = COCO(manifest["coco_gt"])
    rows = sum(len(p.read_text().splitlines()) for p in (root / "labels" / "val").glob("*.txt"))
    assert len(gt.getAnnIds()) == rows == manifest["counts"]["val"]["instances"]
    ann = gt.loadAnns(gt.getAnnIds())[0]
    assert ann["iscrowd"] == 0 and ann["area"] > 0 and len(ann["bbox"]) == 4 and len(ann["segmentation"][0]) >= 6
    assert manifest["category_ids"] == sorted(gt.getCatIds())
    if task == "pose":
        cat = gt.loadCats(gt.getCatIds())[0]
        assert cat["keypoints"] == list(POSE_KEYPOINTS) and cat["skeleton"]
        assert len(ann["keypoints"]) == 3 * len(POSE_KEYPOINTS) and ann["num_keypoints"] == len(POSE_KEYPOINTS)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_one_epoch_trains_on_every_task(task, datasets, tmp_path):
    root, manifest = datasets[task]
    model = yolov12.build("yolov12", "n", task=task, nc=len(manifest["names"]))
    model.train(data=manifest["data"], epochs=1, imgsz=64, batch=4, workers=0, device="cpu", plots=False,
                project=str(tmp_path), name="run", verbose=False)
    assert Path(model.trainer.best).is_file()


# ------------------------------------------------------------------------------------------------ bad input
@pytest.fixture
def broken(datasets, tmp_path):
    """A private copy of the detect set to damage (paths in data.yaml rewritten to the copy)."""
    src, _ = datasets["detect"]
    dst = tmp_path / "broken"
    shutil.copytree(src, dst)
    text = (dst / "data.yaml").read_text().replace(str(src), str(dst))
    (dst / "data.yaml").write_text(text)
    return dst


def first_label(root: Path) -> Path:
    return sorted((root / "labels" / "train").glob("*.txt"))[0]


def test_clean_dataset_passes(broken):
    report = check_dataset(broken / "data.yaml", "detect")
    assert report.images == {"train": 8, "val": 4} and not report.corrupt


@pytest.mark.parametrize("row, message", [
    ("0 0.5 0.5 0.2", "fields: 4 fields; allowed: 5 (class cx cy w h) fields for task detect"),
    ("0 0.5 1.5 0.2 0.2", "coordinates: coordinates ['1.5'] are not normalised; allowed: values in [0, 1]"),
    ("7 0.5 0.5 0.2 0.2", "class: class id 7 is out of range (nc=5); allowed: integers 0..4"),
    ("0 0.5 abc 0.2 0.2", "value: non-numeric value 'abc'; allowed: numbers"),
    ("0 0.5 0.5 0 0.2", "w: box width is 0; allowed: objects of positive width and height"),
    ("0 0.5 0.5 0.2 0.0", "h: box height is 0; allowed: objects of positive width and height"),
    ("0 0.5 nan 0.2 0.2", "value: non-finite value (nan or inf)"),
], ids=["fields", "coordinates", "class", "non-numeric", "zero-width", "zero-height", "nan"])
def test_bad_label_row_names_file_and_line(broken, row, message):
    label = first_label(broken)
    lines = label.read_text().splitlines()
    label.write_text("\n".join(lines + [row]) + "\n")
    with pytest.raises(DatasetError) as err:
        check_dataset(broken / "data.yaml", "detect")
    assert str(err.value).startswith(f"{label}:{len(lines) + 1}: {message}")


def test_several_bad_rows_are_one_line_with_the_count(broken):
    labels = sorted((broken / "labels" / "train").glob("*.txt"))
    for label in labels[:3]:
        label.write_text("9 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DatasetError) as err:
        check_dataset(broken / "data.yaml", "detect")
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{labels[0]}:1: class:")
    assert f"2 more label error(s): {labels[1]}:1, {labels[2]}:1" in text and len(err.value.problems) == 3


def test_corrupt_and_truncated_images_are_counted_skips(broken, caplog):
    images = sorted((broken / "images" / "train").glob("*.png"))
    images[0].write_bytes(images[0].read_bytes()[:200])  # truncated
    images[1].write_bytes(b"not an image at all")
    images[2].write_bytes(b"")
    report = check_dataset(broken / "data.yaml", "detect")
    assert report.images["train"] == 5 and len(report.corrupt) == 3
    out = "\n".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name.endswith("check"))
    assert f"{images[0]}: damaged image (" in out  # the real causes, never Ultralytics' "No module named 'pi_heif'"
    assert f"{images[1]}: not an image in a known format (19 bytes starting 6e 6f 74" in out
    assert f"{images[2]}: empty file (0 bytes)" in out and "pi_heif" not in out


def test_missing_label_file_is_background_and_missing_dir_is_an_error(broken):
    first_label(broken).unlink()
    assert check_dataset(broken / "data.yaml", "detect").background["train"] >= 1
    shutil.rmtree(broken / "images" / "val")
    with pytest.raises(DatasetError, match=r"data.yaml: val: points to .*images/val, which is neither a directory"):
        check_dataset(broken / "data.yaml", "detect")


def test_missing_key_and_missing_file(broken):
    with pytest.raises(UserError, match="nope.yaml: --data: dataset file not found"):
        check_dataset(broken / "nope.yaml", "detect")
    (broken / "data.yaml").write_text("train: images/train\nval: images/val\n")
    with pytest.raises(DatasetError, match="data.yaml: names: missing key"):
        check_dataset(broken / "data.yaml", "detect")


def test_manifest_records_spec_and_counts(datasets):
    root, manifest = datasets["detect"]
    on_disk = json.loads((root / "dataset.json").read_text())
    assert on_disk == manifest and on_disk["spec"]["seed"] == 0 and on_disk["data"] == str(root / "data.yaml")


def test_non_square_images_keep_normalised_labels(tmp_path):
    """--height gives W x H images (the default workflow uses 128 x 96); labels stay normalised per axis."""
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    manifest = generate(tmp_path / "d", task="segment", verbose=False, **{**SMALL, "imgsz": 96}, height=64)
    report = check_dataset(manifest["data"], "segment")  # coordinates within [0, 1] on both axes
    assert report.instances["val"] == manifest["counts"]["val"]["instances"]
    data = check_det_dataset(manifest["data"])
    labels = YOLODataset(img_path=data["val"], data=data, task="segment", imgsz=96, augment=False).get_labels()
    assert labels[0]["shape"] == (64, 96)  # (h, w)
    gt = json.loads(Path(manifest["coco_gt"]).read_text())
    assert (gt["images"][0]["width"], gt["images"][0]["height"]) == (96, 64)
