"""Validating a COCO 2017 copy: image directories, annotation files and their counts against the official ones."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .spec import (ANNOTATION_STEMS, ARCHIVES, DEFAULT_BASE_URL, EXPECTED_KEYS, OFFICIAL_EXPECTED, SPLITS, CocoArchive,
                   CocoError, archive_url)


def resolve_expected(expected: dict[str, Any] | None) -> dict[str, Any]:
    """``None`` = the official COCO 2017 values; a dict replaces them entirely (keys it lacks are not checked)."""
    if expected is None:
        return dict(OFFICIAL_EXPECTED)
    unknown = sorted(set(expected) - set(EXPECTED_KEYS))
    if unknown:
        raise CocoError(f"unknown key(s) {unknown}", key="expected", allowed=list(EXPECTED_KEYS))
    return dict(expected)


def _count_jpgs(directory: Path) -> int:
    with os.scandir(directory) as entries:
        return sum(1 for e in entries if e.name.lower().endswith(".jpg"))


def _image_dir_problem(root: Path, split: str, expected: dict[str, Any]) -> tuple[int, str | None]:
    directory, want = root / split, expected.get(split)
    want_text = f"expected {want} .jpg images" if want is not None else "expected .jpg images"
    if not directory.is_dir():
        return 0, f"missing image directory {directory} ({want_text})"
    found = _count_jpgs(directory)
    if found == 0 or (want is not None and found != want):
        return found, f"{directory} has {found} .jpg images, {want_text}"
    return found, None


def archive_problems(root: Path, archive: CocoArchive, expected: dict[str, Any]) -> list[str]:
    """What is missing or wrong among the paths extracting ``archive`` creates (empty = nothing to fetch)."""
    problems = []
    for relative in archive.provides:
        if relative in SPLITS:
            problems.append(_image_dir_problem(root, relative, expected)[1])
        elif not (root / relative).is_file():
            problems.append(f"missing annotation file {root / relative}")
    return [p for p in problems if p]


def _how_to_get(root: Path) -> str:
    urls = ", ".join(archive_url(DEFAULT_BASE_URL, a) for a in ARCHIVES)
    return (f"the official COCO 2017 copy: run 'yolov12 data coco --root {root} --download', or unzip {urls} "
            f"into {root}")


def raise_problems(root: Path, problems: list[str]) -> None:
    """Every problem of the copy in one error line, with how to get a complete one."""
    if problems:
        raise CocoError(f"not a usable COCO 2017 copy: {'; '.join(problems)}", file=root, key="--root",
                        allowed=_how_to_get(root))


def validate_layout(root: Path, expected: dict[str, Any]) -> dict[str, int]:
    """Image directories and annotation files; every problem is listed in one CocoError."""
    if not root.is_dir():
        raise_problems(root, [f"COCO root directory {root} does not exist"])
    problems, counts = [], {}
    for split in SPLITS:
        counts[split], problem = _image_dir_problem(root, split, expected)
        problems += [problem] if problem else []
    for stem in ANNOTATION_STEMS:
        if not (root / "annotations" / f"{stem}.json").is_file():
            problems.append(f"missing annotation file {root / 'annotations' / f'{stem}.json'}")
    raise_problems(root, problems)
    return counts


def check_json_counts(root: Path, source: Path, counts: dict[str, int], expected: dict[str, Any]) -> None:
    problems = []
    for field in ("images", "annotations"):
        want = expected.get(f"{source.stem}/{field}")
        if want is not None and counts[field] != want:
            problems.append(f"{source} lists {counts[field]} {field}, expected {want}")
    raise_problems(root, problems)
