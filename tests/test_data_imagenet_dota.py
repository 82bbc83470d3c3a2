"""ImageNet-1k preparation and DOTA v1 validation, run for real on tiny fake archives and trees."""

import yolov12  # noqa: F401  (offline env vars before Ultralytics loads)

import csv
import io
import json
import logging
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from scipy.io import savemat

from yolov12.data.dota import DOTA_V1_NAMES, DotaError, validate_dota
from yolov12.data.imagenet import ImageNetError, prepare_imagenet

# ILSVRC2012_IDs follow the WordNet hierarchy, not WNID order: the sorted names must differ from the ID order.
WNID_BY_ID = {1: "n02000003", 2: "n01000001", 3: "n01500002"}
SORTED_WNIDS = sorted(WNID_BY_ID.values())
TRAIN_PER_CLASS = 2
VAL_IDS = [3, 1, 2, 2, 3, 1]  # ground truth, one ILSVRC2012_ID per val image in image order
TINY = {"classes": 3, "train": 6, "val": 6}


# ------------------------------------------------------------------------------------------------ fake ILSVRC2012
def jpeg_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    # 16 px: Ultralytics drops images smaller than 10 px as corrupt
    Image.new("RGB", (16, 16), (seed * 40 % 256, 90, 160)).save(buf, format="JPEG")
    return buf.getvalue()


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_train_tar(path: Path) -> None:
    """Outer tar of per-class inner tars, as ILSVRC2012_img_train.tar."""
    with tarfile.open(path, "w") as outer:
        for wnid in WNID_BY_ID.values():
            inner = io.BytesIO()
            with tarfile.open(fileobj=inner, mode="w") as tar:
                for i in range(TRAIN_PER_CLASS):
                    add_bytes(tar, f"{wnid}_{i + 1}.JPEG", jpeg_bytes(i))
            add_bytes(outer, f"{wnid}.tar", inner.getvalue())


def write_val_tar(path: Path) -> None:
    with tarfile.open(path, "w") as tar:
        for number in range(1, len(VAL_IDS) + 1):
            add_bytes(tar, f"ILSVRC2012_val_{number:08d}.JPEG", jpeg_bytes(number))


def meta_mat_bytes() -> bytes:
    """``synsets`` as in the real meta.mat: a struct array (N x 1) whose leaves (num_children 0) are the classes."""
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height",
              "num_train_images"]
    rows = [(i, wnid, f"class {i}", "a leaf", 0, np.zeros(0), 0, TRAIN_PER_CLASS) for i, wnid in WNID_BY_ID.items()]
    rows.append((4, "n09999999", "parent", "an inner node", 3, np.array([1, 2, 3]), 1, 0))  # non-leaf, like IDs >1000
    synsets = np.empty((len(rows), 1), dtype=[(f, object) for f in fields])
    for r, row in enumerate(rows):
        for f, value in zip(fields, row):
            synsets[r, 0][f] = value
    buf = io.BytesIO()
    savemat(buf, {"synsets": synsets})
    return buf.getvalue()


def write_devkit(path: Path) -> None:
    with tarfile.open(path, "w:gz") as tar:
        add_bytes(tar, "ILSVRC2012_devkit_t12/data/meta.mat", meta_mat_bytes())
        ground_truth = "".join(f"{i}\n" for i in VAL_IDS).encode()
        add_bytes(tar, "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt", ground_truth)


def write_val_csv(path: Path, skip: int | None = None) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ImageId", "PredictionString"])
        for number, ilsvrc_id in enumerate(VAL_IDS, start=1):
            if number != skip:
                wnid = WNID_BY_ID[ilsvrc_id]
                writer.writerow([f"ILSVRC2012_val_{number:08d}", f"{wnid} 1 2 30 40 {wnid} 5 6 7 8"])


@pytest.fixture(scope="module")
def ilsvrc(tmp_path_factory) -> dict[str, Path]:
    src = tmp_path_factory.mktemp("ilsvrc")
    files = {
        "train_tar": src / "ILSVRC2012_img_train.tar",
        "val_tar": src / "ILSVRC2012_img_val.tar",
        "devkit": src / "ILSVRC2012_devkit_t12.tar.gz",
        "csv": src / "LOC_val_solution.csv",
    }
    write_train_tar(files["train_tar"])
    write_val_tar(files["val_tar"])
    write_devkit(files["devkit"])
    write_val_csv(files["csv"])
    return files


def prepare(out: Path, ilsvrc: dict[str, Path], **kwargs) -> dict:
    args = {"train_tar": ilsvrc["train_tar"], "val_tar": ilsvrc["val_tar"], "devkit": ilsvrc["devkit"]}
    return prepare_imagenet(out, **{**args, "expected": TINY, **kwargs})


def tree_files(root: Path) -> dict[str, list[str]]:
    return {
        split: sorted(p.relative_to(root / split).as_posix() for p in (root / split).rglob("*") if p.is_file())
        for split in ("train", "val")
    }


def expected_val_tree() -> list[str]:
    return sorted(f"{WNID_BY_ID[i]}/ILSVRC2012_val_{n:08d}.JPEG" for n, i in enumerate(VAL_IDS, start=1))


# -------------------------------------------------------------------------------------------------------- ImageNet
@pytest.mark.parametrize("ground_truth", ["devkit", "devkit_folder", "csv"])
def test_imagenet_from_archives(tmp_path, ilsvrc, ground_truth):
    if ground_truth == "devkit_folder":  # the devkit may also be given extracted
        with tarfile.open(ilsvrc["devkit"]) as tar:
            tar.extractall(tmp_path / "devkit", filter="data")
        ilsvrc = {**ilsvrc, "devkit_folder": tmp_path / "devkit"}
    csv_source = {"devkit": None, "val_labels": ilsvrc["csv"]}
    source = csv_source if ground_truth == "csv" else {"devkit": ilsvrc[ground_truth]}
    out = tmp_path / "imagenet"
    manifest = prepare(out, ilsvrc, **source)

    files = tree_files(out)
    assert files["train"] == sorted(f"{w}/{w}_{i}.JPEG" for w in SORTED_WNIDS for i in (1, 2))
    assert files["val"] == expected_val_tree()
    assert manifest["counts"] == {"train": 6, "val": 6} and manifest["classes"] == 3
    assert manifest["per_class"]["val"] == {"n01000001": 2, "n01500002": 2, "n02000003": 2}
    assert manifest["source"]["mode"] == "archives"
    assert manifest["source"]["val_labels"] == str(ilsvrc[ground_truth].resolve())
    assert json.loads((out / "imagenet.json").read_text()) == manifest

    data = yaml.safe_load((out / "imagenet.yaml").read_text())
    assert data == {"path": str(out.resolve()), "train": "train", "val": "val", "names": dict(enumerate(SORTED_WNIDS))}
    assert not list(out.rglob("*.tmp")), "no temporary file or directory may remain"
    mkdir_mode = (out / "train").stat().st_mode & 0o777
    assert {(out / s / w).stat().st_mode & 0o777 for s in ("train", "val") for w in SORTED_WNIDS} == {mkdir_mode}


def test_imagenet_rerun_skips_finished_classes(tmp_path, ilsvrc, caplog):
    out = tmp_path / "imagenet"
    first = prepare(out, ilsvrc)
    stamps = {p: p.stat().st_mtime_ns for split in ("train", "val") for p in (out / split).rglob("*")}
    assert len(stamps) == 3 + 6 + 3 + 6  # class directories and images
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="yolov12"):  # progress lines are INFO records of yolov12.data
        second = prepare(out, ilsvrc)
    log = caplog.text
    assert log.count("already extracted, skipped") == 3 and "imagenet val: all classes already extracted" in log
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert second == first


def test_imagenet_resumes_an_interrupted_run(tmp_path, ilsvrc):
    out = tmp_path / "imagenet"
    prepare(out, ilsvrc)
    # An interrupted run leaves the class it was extracting under atomic_dir's temporary name, half-filled.
    for split in ("train", "val"):
        shutil.rmtree(out / split / "n01500002")
        leftover = out / split / ".n01500002.x1y2z3.tmp"
        leftover.mkdir()
        (leftover / "partial.JPEG").write_bytes(b"\xff\xd8 cut off")
    untouched = (out / "train" / "n01000001").stat().st_mtime_ns

    manifest = prepare(out, ilsvrc)
    assert not list(out.rglob(".*.tmp"))
    assert tree_files(out)["train"] == sorted(f"{w}/{w}_{i}.JPEG" for w in SORTED_WNIDS for i in (1, 2))
    assert tree_files(out)["val"] == expected_val_tree()
    assert manifest["counts"] == {"train": 6, "val": 6}
    assert (out / "train" / "n01000001").stat().st_mtime_ns == untouched


def test_imagenet_validates_an_existing_tree(tmp_path, ilsvrc):
    prepared = tmp_path / "prepared"
    prepare(prepared, ilsvrc)
    manifest = prepare_imagenet(tmp_path / "meta", tree=prepared, expected=TINY)
    assert manifest["source"] == {"mode": "tree", "tree": str(prepared.resolve())}
    assert manifest["counts"] == {"train": 6, "val": 6}
    assert yaml.safe_load((tmp_path / "meta" / "imagenet.yaml").read_text())["path"] == str(prepared.resolve())

    shutil.rmtree(prepared / "val" / "n01500002")
    with pytest.raises(ImageNetError, match=r"missing from .*val.*n01500002"):
        prepare_imagenet(tmp_path / "meta", tree=prepared, expected=TINY)


def test_imagenet_errors_say_what_to_supply(tmp_path, ilsvrc):
    out = tmp_path / "out"
    with pytest.raises(ImageNetError, match=r"--devkit: no val ground truth: .*allowed: --devkit .* or --val-labels"):
        prepare(out, ilsvrc, devkit=None)

    missing = tmp_path / "ILSVRC2012_img_val.tar"
    with pytest.raises(ImageNetError, match=rf"val_tar={missing} does not exist.*ILSVRC2012_img_val\.tar"):
        prepare(out, ilsvrc, val_tar=missing)

    # The official counts are the default: 3 classes are reported before anything is extracted.
    with pytest.raises(ImageNetError, match=r"ILSVRC2012_img_train\.tar: expected: found 3 classes .* expected 1,000"):
        prepare(out, ilsvrc, expected=None)
    with pytest.raises(ImageNetError, match=r"ILSVRC2012_img_val\.tar: expected: found 6 val images, expected 7"):
        prepare(out, ilsvrc, expected={**TINY, "val": 7})
    assert not out.exists(), "failed checks must come before extraction"

    csv_path = tmp_path / "short.csv"
    write_val_csv(csv_path, skip=4)
    with pytest.raises(ImageNetError, match=r"1 of 6 images .* no label in .*short\.csv .*ILSVRC2012_val_00000004"):
        prepare(out, ilsvrc, devkit=None, val_labels=csv_path)

    # A train-count mismatch can only be seen after extraction; it names the split folder.
    with pytest.raises(ImageNetError, match=r"train: expected: found 6 train images, expected 8"):
        prepare(out, ilsvrc, expected={**TINY, "train": 8})


def test_imagenet_tree_loads_in_ultralytics(tmp_path, ilsvrc):
    from ultralytics.cfg import get_cfg
    from ultralytics.data.dataset import ClassificationDataset

    out = tmp_path / "imagenet"
    prepare(out, ilsvrc)
    for split, n in (("train", 6), ("val", 6)):
        dataset = ClassificationDataset(root=str(out / split), args=get_cfg(overrides={"imgsz": 32}), augment=False)
        assert len(dataset) == n
        assert dataset.base.classes == SORTED_WNIDS
    sample = dataset[0]
    assert tuple(sample["img"].shape) == (3, 32, 32)


# ------------------------------------------------------------------------------------------------------------ DOTA
GOOD_ROWS = {
    "train/P0001": ["0 0.1 0.1 0.4 0.1 0.4 0.3 0.1 0.3", "9 0.5 0.5 0.9 0.5 0.9 0.7 0.5 0.7"],
    "train/P0002": ["14 0 0 1 0 1 1 0 1"],
    "val/P0003": [
        "1 0.2 0.2 0.6 0.2 0.6 0.5 0.2 0.5",
        "1 0.6 0.6 0.8 0.6 0.8 0.9 0.6 0.9",
        "10 0.3 0.7 0.4 0.7 0.4 0.8 0.3 0.8",
    ],
}


def make_dota(root: Path, rows: dict[str, list[str]] = GOOD_ROWS, background: str = "train/P0009") -> Path:
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    for name in [*rows, background]:
        Image.new("RGB", (64, 48), (70, 80, 90)).save(root / "images" / f"{name}.png")
    for name, lines in rows.items():
        (root / "labels" / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_dota_valid_tree(tmp_path):
    root = make_dota(tmp_path / "DOTAv1")
    result = validate_dota(root)
    train, val = result["splits"]["train"], result["splits"]["val"]
    assert (train["images"], train["labels"], train["labelled_images"], train["background_images"]) == (3, 2, 2, 1)
    assert (val["images"], val["labels"], val["background_images"], val["instances"]) == (1, 1, 0, 3)
    assert train["instances"] == 3
    assert {k: v for k, v in train["per_class"].items() if v} == {"plane": 1, "large vehicle": 1, "swimming pool": 1}
    assert val["per_class"]["ship"] == 2 and val["per_class"]["small vehicle"] == 1

    data = yaml.safe_load((root / "dota.yaml").read_text())
    names = dict(enumerate(DOTA_V1_NAMES))
    assert data == {"path": str(root.resolve()), "train": "images/train", "val": "images/val", "names": names}
    assert data["names"][2] == "storage tank" and data["names"][14] == "swimming pool"
    assert result["yaml"] == str(root.resolve() / "dota.yaml")

    assert validate_dota(root, expected={"train": 3, "val": 1}, write_yaml=False)["yaml"] is None
    with pytest.raises(DotaError, match=r"images/val: expected: found 1 images, expected 458"):
        validate_dota(root, expected={"val": 458})


@pytest.mark.parametrize(
    "bad_row, message",
    [
        ("0 0.1 0.1 0.4 0.1 0.4 0.3", "fields: 7 fields; allowed: 9 fields 'class x1 y1 x2 y2 x3 y3 x4 y4'"),
        ("15 0.1 0.1 0.4 0.1 0.4 0.3 0.1 0.3",
         "class: class '15' is not a DOTA v1 class index; allowed: integers 0..14"),
        ("2.5 0.1 0.1 0.4 0.1 0.4 0.3 0.1 0.3", "class: class '2.5' is not a DOTA v1 class index"),
        ("3 0.1 0.1 1.5 0.1 0.4 0.3 0.1 0.3", "x2: 1.5 is outside [0, 1]"),
        ("3 0.1 0.1 0.4 0.1 0.4 abc 0.1 0.3", "y3: 'abc' is not a number"),
        ("3 0.1 0.1 0.4 0.1 0.4 0.3 0.1 nan", "y4: nan is outside [0, 1]"),
        ("3 0.1 0.1 0.4 0.1 0.4 0.1 0.1 0.1", "y: polygon has zero height (all y = 0.1)"),
    ],
)
def test_dota_bad_rows_name_file_and_line(tmp_path, bad_row, message):
    rows = {**GOOD_ROWS, "train/P0001": [GOOD_ROWS["train/P0001"][0], "", bad_row]}  # line 2 is blank, line 3 bad
    root = make_dota(tmp_path / "DOTAv1", rows)
    with pytest.raises(DotaError) as error:
        validate_dota(root)
    assert f"labels/train/P0001.txt:3: {message}" in str(error.value)
    assert not (root / "dota.yaml").exists()


def test_dota_coordinate_margin_for_tiles(tmp_path):
    rows = {**GOOD_ROWS, "train/P0002": ["14 -0.05 0 1.1 0 1.1 1 -0.05 1"]}  # a tile object poking out of its tile
    root = make_dota(tmp_path / "DOTAv1", rows)
    with pytest.raises(DotaError, match=r"labels/train/P0002.txt:1: x1: -0.05 is outside \[0, 1\]"):
        validate_dota(root)
    assert validate_dota(root, coord_margin=0.2)["splits"]["train"]["instances"] == 3


def test_dota_missing_directory(tmp_path):
    root = make_dota(tmp_path / "DOTAv1")
    shutil.rmtree(root / "labels" / "val")
    with pytest.raises(DotaError, match=r"DOTAv1: --root: labels/val does not exist; allowed: a DOTA root with"):
        validate_dota(root)


def test_dota_tree_loads_in_ultralytics(tmp_path):
    from ultralytics.cfg import get_cfg
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    root = make_dota(tmp_path / "DOTAv1")
    data = check_det_dataset(str(validate_dota(root)["yaml"]))
    assert data["nc"] == 15
    for split, images, instances in (("train", 3, 3), ("val", 1, 3)):
        dataset = YOLODataset(img_path=data[split], imgsz=32, augment=False, hyp=get_cfg(), data=data, task="obb")
        assert len(dataset) == images
        assert sum(len(label["cls"]) for label in dataset.labels) == instances
    assert dataset[0]["bboxes"].shape == (3, 5)  # xywhr
