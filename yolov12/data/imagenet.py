"""ImageNet-1k (ILSVRC2012) in Ultralytics' classification layout: ``out/{train,val}/<wnid>/*.JPEG``.

Two sources:

- the user's ILSVRC2012 archives: ``ILSVRC2012_img_train.tar`` (one inner tar per class, ``n01440764.tar`` ...),
  ``ILSVRC2012_img_val.tar`` (50,000 flat JPEGs) and the val ground truth, from either the devkit
  ``ILSVRC2012_devkit_t12.tar.gz`` (``data/ILSVRC2012_validation_ground_truth.txt`` + ``data/meta.mat``) or a
  Kaggle-style ``LOC_val_solution.csv``;
- an existing ``train/<wnid>/``, ``val/<wnid>/`` tree, which is only validated.

Extraction streams the archives member by member (memory stays flat whatever the archive size). Every class
directory is built under a temporary name and renamed when complete, so a directory with its final name is always
a finished class: an interrupted run is resumed by running again (finished classes are skipped, leftover temporary
directories are deleted and those classes redone). The result is checked against the official counts (1000
classes, 1,281,167 train and 50,000 val images) and described by ``imagenet.yaml`` and ``imagenet.json``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

from ultralytics.data.utils import IMG_FORMATS  # the suffixes ClassificationDataset loads: our counts match training

from ..io import atomic_dir, write_json, write_yaml
from .imagenet_labels import (CSV_COLUMNS, DEVKIT, DEVKIT_GROUND_TRUTH, DEVKIT_META, WNID, ImageNetError,
                              load_val_labels, require_dir, require_file)

log = logging.getLogger(__name__)

__all__ = ["CSV_COLUMNS", "DEVKIT", "DEVKIT_GROUND_TRUTH", "DEVKIT_META", "EXPECTED", "ImageNetError", "SPLITS",
           "TRAIN_TAR", "VAL_TAR", "load_val_labels", "prepare_imagenet"]

EXPECTED = {"classes": 1000, "train": 1_281_167, "val": 50_000}
SPLITS = ("train", "val")
TRAIN_TAR = "ILSVRC2012_img_train.tar"
VAL_TAR = "ILSVRC2012_img_val.tar"
VAL_PROGRESS_EVERY = 5000  # images between two val progress lines


# --------------------------------------------------------------------------------------------------- entry point
def prepare_imagenet(
    out: str | Path,
    train_tar: str | Path | None = None,
    val_tar: str | Path | None = None,
    devkit: str | Path | None = None,
    val_labels: str | Path | None = None,
    tree: str | Path | None = None,
    expected: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Build (from archives) or validate (``tree``) ImageNet-1k; write ``out/imagenet.yaml`` and ``out/imagenet.json``.

    Returns the manifest written to ``imagenet.json`` (source, class names, counts per split and per class).
    ``expected`` overrides any of ``classes``/``train``/``val`` (the official counts are the defaults).
    """
    expected = expected_counts(expected)
    out = Path(out).expanduser().resolve()
    if tree is not None:
        if any(x is not None for x in (train_tar, val_tar, devkit, val_labels)):
            raise ImageNetError("both an extracted tree and archives given", key="--tree",
                                allowed="either --tree (an existing train/ + val/ folder tree) or the archives "
                                "(--train-tar, --val-tar, --devkit or --val-labels), not both")
        root = require_dir(tree, "tree", "a folder with train/<wnid>/*.JPEG and val/<wnid>/*.JPEG")
        source = {"mode": "tree", "tree": str(root)}
    else:
        source = extract_archives(out, train_tar, val_tar, devkit, val_labels, expected)
        root = out
    per_class = count_tree(root)
    check_counts(root, per_class, expected)
    names = sorted(per_class["train"])  # torchvision's ImageFolder (used by Ultralytics) indexes sorted folder names
    data = {"path": str(root), "train": "train", "val": "val", "names": dict(enumerate(names))}
    write_yaml(out / "imagenet.yaml", data)
    manifest = {
        "dataset": "imagenet-1k",
        "root": str(root),
        "yaml": str(out / "imagenet.yaml"),
        "source": source,
        "expected": expected,
        "classes": len(names),
        "counts": {split: sum(per_class[split].values()) for split in SPLITS},
        "names": names,
        "per_class": per_class,
    }
    write_json(out / "imagenet.json", manifest, indent=2)
    return manifest


def expected_counts(overrides: dict[str, int] | None) -> dict[str, int]:
    expected = dict(EXPECTED)
    for key, value in (overrides or {}).items():
        if key not in EXPECTED:
            raise ImageNetError(f"unknown key {key!r}", key="expected", allowed=list(EXPECTED))
        if not isinstance(value, int) or value < 1:
            raise ImageNetError(f"{value!r} is not a positive integer", key=f"expected[{key!r}]",
                                allowed="integers >= 1")
        expected[key] = value
    return expected




# ------------------------------------------------------------------------------------------------------ extraction
def extract_archives(
    out: Path,
    train_tar: str | Path | None,
    val_tar: str | Path | None,
    devkit: str | Path | None,
    val_labels: str | Path | None,
    expected: dict[str, int],
) -> dict[str, str]:
    """Check what the archives hold against the ground truth and counts, then extract the classes not done yet."""
    train_tar = require_file(train_tar, "train_tar", f"{TRAIN_TAR} (one inner tar per class)")
    val_tar = require_file(val_tar, "val_tar", f"{VAL_TAR} (the 50,000 flat val JPEGs)")
    labels, label_source = load_val_labels(devkit, val_labels)
    for split in SPLITS:
        remove_leftover_temp_dirs(out / split)
    with open_tar(train_tar) as train, open_tar(val_tar) as val:
        # Everything checkable from the archive headers is checked before hours of extraction start.
        class_tars = train_class_members(train, train_tar)
        check_total(train_tar, "classes (inner <wnid>.tar members)", len(class_tars), expected["classes"])
        val_images = labelled_val_members(val, val_tar, labels, label_source)
        check_total(val_tar, "val images", len(val_images), expected["val"])
        check_same_classes(set(class_tars), {wnid for _, wnid in val_images}, train_tar, label_source)
        extract_train_classes(out / "train", train, class_tars)
        extract_val_classes(out / "val", val, val_images)
    return {"mode": "archives", "train_tar": str(train_tar), "val_tar": str(val_tar), "val_labels": label_source}


def open_tar(path: Path) -> tarfile.TarFile:
    # Random-access mode reads only headers up front and seeks past finished classes instead of reading them.
    try:
        return tarfile.open(path, "r:*")
    except tarfile.TarError as e:
        raise ImageNetError(f"not a readable tar archive ({e})", file=path,
                            key="--train-tar" if path.name == TRAIN_TAR else "--val-tar") from None


def remove_leftover_temp_dirs(split_dir: Path) -> None:
    """Temporary class directories of an interrupted run (``atomic_dir`` names them ``.<name>.*.tmp``)."""
    if not split_dir.is_dir():
        return
    for leftover in split_dir.glob(".*.tmp"):
        log.warning("removing %s left by an interrupted run", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def train_class_members(tar: tarfile.TarFile, path: Path) -> dict[str, tarfile.TarInfo]:
    classes: dict[str, tarfile.TarInfo] = {}
    for member in tar.getmembers():
        name = PurePosixPath(member.name)
        if not member.isfile() or name.suffix != ".tar":
            continue
        if not WNID.fullmatch(name.stem):  # the stem becomes a directory name: only WNIDs are accepted
            raise ImageNetError(f"member {member.name!r} is not named <wnid>.tar", file=path,
                                key="--train-tar", allowed="<wnid>.tar members, e.g. n01440764.tar")
        if name.stem in classes:
            raise ImageNetError(f"class archive {name.stem}.tar appears twice", file=path, key="--train-tar")
        classes[name.stem] = member
    if not classes:
        raise ImageNetError("holds no <wnid>.tar members", file=path, key="--train-tar",
                            allowed=f"{TRAIN_TAR} as downloaded")
    return dict(sorted(classes.items()))


def labelled_val_members(
    tar: tarfile.TarFile, path: Path, labels: dict[str, str], label_source: str
) -> list[tuple[tarfile.TarInfo, str]]:
    images = [m for m in tar.getmembers() if is_image_member(m)]
    labelled = [(m, labels.get(PurePosixPath(m.name).stem)) for m in images]
    unlabelled = [m.name for m, wnid in labelled if wnid is None]
    if unlabelled:
        raise ImageNetError(
            f"{len(unlabelled)} of {len(images)} images in {path} have no label in {label_source} "
            f"(first: {unlabelled[:3]})", file=label_source, key="--devkit/--val-labels",
            allowed="the ground truth that matches this archive")
    return labelled


def check_same_classes(train: set[str], val: set[str], train_tar: Path, label_source: str) -> None:
    if train - val:
        raise ImageNetError(
            f"{len(train - val)} classes of {train_tar} have no val image in {label_source} "
            f"(first: {sorted(train - val)[:3]})", file=label_source, key="--devkit/--val-labels",
            allowed="val images for every class")
    if val - train:
        raise ImageNetError(
            f"labels val images with {len(val - train)} classes that {train_tar} lacks "
            f"(first: {sorted(val - train)[:3]})", file=label_source, key="--devkit/--val-labels",
            allowed="the classes of the train archive")


def is_image_member(member: tarfile.TarInfo) -> bool:
    name = PurePosixPath(member.name).name
    # '._*' are macOS resource forks that share the image suffix but are not images
    return member.isfile() and not name.startswith(".") and name.rpartition(".")[-1].lower() in IMG_FORMATS


def give_mkdir_mode(directory: Path) -> None:
    """``atomic_dir`` makes its temporary directory with mkdtemp's private 0700; a shared dataset must stay readable,
    so give it the mode a plain mkdir would (0777 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)


def copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, directory: Path) -> None:
    # Only the member's base name is used: an archive can never write outside the class directory.
    with tar.extractfile(member) as src, (directory / PurePosixPath(member.name).name).open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def extract_train_classes(train_dir: Path, tar: tarfile.TarFile, class_tars: dict[str, tarfile.TarInfo]) -> None:
    total = len(class_tars)
    for done, (wnid, member) in enumerate(class_tars.items(), start=1):
        if (train_dir / wnid).is_dir():
            log.info("imagenet train %d/%d %s: already extracted, skipped", done, total, wnid)
            continue
        with atomic_dir(train_dir / wnid) as tmp:
            give_mkdir_mode(tmp)
            # The inner tar is read as a stream straight out of the outer one: never unpacked to disk or memory.
            with tar.extractfile(member) as stream, tarfile.open(fileobj=stream, mode="r|*") as inner:
                count = 0
                for image in inner:
                    if is_image_member(image):
                        copy_member(inner, image, tmp)
                        count += 1
        log.info("imagenet train %d/%d %s: %d images", done, total, wnid, count)


def extract_val_classes(val_dir: Path, tar: tarfile.TarFile, images: list[tuple[tarfile.TarInfo, str]]) -> None:
    """One pass over the flat val tar fills every unfinished class's temporary directory; all are renamed at the end."""
    pending_set = {wnid for _, wnid in images} - {p.name for p in existing_class_dirs(val_dir)}
    pending = sorted(pending_set)
    if not pending:
        log.info("imagenet val: all classes already extracted in %s, skipped", val_dir)
        return
    todo = [(member, wnid) for member, wnid in images if wnid in pending_set]
    with contextlib.ExitStack() as stack:
        temp_dirs = {wnid: stack.enter_context(atomic_dir(val_dir / wnid)) for wnid in pending}
        for tmp in temp_dirs.values():
            give_mkdir_mode(tmp)
        for done, (member, wnid) in enumerate(todo, start=1):
            copy_member(tar, member, temp_dirs[wnid])
            if done % VAL_PROGRESS_EVERY == 0 or done == len(todo):
                log.info("imagenet val: %d/%d images (%d classes)", done, len(todo), len(pending))


# ------------------------------------------------------------------------------------------------------ validation
def existing_class_dirs(split_dir: Path) -> list[Path]:
    return sorted(p for p in split_dir.iterdir() if p.is_dir()) if split_dir.is_dir() else []


def count_tree(root: Path) -> dict[str, dict[str, int]]:
    """Images per class per split, counted the way Ultralytics' ClassificationDataset will find them."""
    per_class = {}
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            raise ImageNetError(f"{split_dir} does not exist", file=root, key="--tree",
                                allowed=f"a folder with {split}/<wnid>/*.JPEG")
        class_dirs = existing_class_dirs(split_dir)
        hidden = [p.name for p in class_dirs if p.name.startswith(".")]
        if hidden:
            # torchvision's ImageFolder would take these for extra classes and shift every class index
            raise ImageNetError(f"hidden directories {hidden[:3]} (ImageFolder would count them as "
                                "classes); remove them", file=split_dir, key="--tree", allowed="<wnid> directories")
        per_class[split] = {p.name: count_images(p) for p in class_dirs}
    return per_class


def count_images(directory: Path) -> int:
    # Walked like torchvision's ImageFolder (subfolders and symlinks included), so a user's tree counts as it loads
    return sum(
        1
        for _, _, files in os.walk(directory, followlinks=True)
        for name in files
        if name.rpartition(".")[-1].lower() in IMG_FORMATS
    )


def check_counts(root: Path, per_class: dict[str, dict[str, int]], expected: dict[str, int]) -> None:
    train, val = per_class["train"], per_class["val"]
    check_total(root / "train", "classes", len(train), expected["classes"])
    missing_in_val = sorted(set(train) - set(val))
    if missing_in_val:
        raise ImageNetError(
            f"{len(missing_in_val)} classes of {root / 'train'} are missing from {root / 'val'} "
            f"(first: {missing_in_val[:3]})", file=root / "val", key="--tree", allowed="val images for every class")
    extra_in_val = sorted(set(val) - set(train))
    if extra_in_val:
        raise ImageNetError(f"classes not in {root / 'train'}: {extra_in_val[:3]}", file=root / "val",
                            key="--tree", allowed="the classes of train/")
    for split, counts in per_class.items():
        empty = sorted(wnid for wnid, n in counts.items() if n == 0)
        if empty:
            raise ImageNetError(f"{len(empty)} classes without images: {empty[:3]}", file=root / split,
                                key="--tree", allowed="at least one image per class")
        check_total(root / split, f"{split} images", sum(counts.values()), expected[split])


def check_total(path: Path, what: str, found: int, expected: int) -> None:
    if found != expected:
        raise ImageNetError(f"found {found:,} {what}, expected {expected:,}", file=path, key="expected",
                            allowed="the complete ILSVRC2012 files, or expected={...} for a deliberate subset")
