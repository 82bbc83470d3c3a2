"""ImageNet-1k validation ground truth (devkit or Kaggle CSV), and the checks every ImageNet step shares."""

from __future__ import annotations

import csv
import io
import re
import tarfile
from pathlib import Path, PurePosixPath

from ..errors import UserError

DEVKIT = "ILSVRC2012_devkit_t12.tar.gz"
DEVKIT_GROUND_TRUTH = "data/ILSVRC2012_validation_ground_truth.txt"
DEVKIT_META = "data/meta.mat"
CSV_COLUMNS = ("ImageId", "PredictionString")
WNID = re.compile(r"n\d{8}")


class ImageNetError(UserError):
    """The ImageNet sources or the prepared tree are missing, inconsistent, or have the wrong counts."""


def require_file(path: str | Path | None, argument: str, what: str) -> Path:
    if path is None:
        raise ImageNetError("not given", key=flag(argument),
                            allowed=f"{what} (or --tree for an already extracted tree)")
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ImageNetError(f"{argument}={path} does not exist or is not a file", file=path,
                            key=flag(argument), allowed=what)
    return path


def require_dir(path: str | Path, argument: str, what: str) -> Path:
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise ImageNetError(f"{argument}={path} is not a directory", file=path, key=flag(argument),
                            allowed=what)
    return path


def flag(argument: str) -> str:
    """The command-line flag of a prepare_imagenet argument (errors name what the user typed)."""
    return f"--{argument.replace('_', '-')}"



# ----------------------------------------------------------------------------------------------- val ground truth
def load_val_labels(
    devkit: str | Path | None = None, val_labels: str | Path | None = None
) -> tuple[dict[str, str], str]:
    """Map each val image's stem (``ILSVRC2012_val_00000001``) to its WNID; also return where the mapping came from."""
    if devkit is not None and val_labels is not None:
        raise ImageNetError("two val ground truths given", key="--devkit",
                            allowed="one of --devkit or --val-labels")
    if val_labels is not None:
        what = f"a CSV with columns {','.join(CSV_COLUMNS)} (LOC_val_solution.csv)"
        path = require_file(val_labels, "val_labels", what)
        return read_val_csv(path), str(path)
    if devkit is not None:
        path = Path(devkit).expanduser().resolve()
        if not path.exists():
            raise ImageNetError(f"devkit={path} does not exist", file=path, key="--devkit",
                                allowed=f"{DEVKIT} or its extracted folder")
        ground_truth, meta = read_devkit_files(path)
        return val_labels_from_devkit(ground_truth, meta, path), str(path)
    raise ImageNetError(
        "no val ground truth: supply devkit= or val_labels=", key="--devkit",
        allowed=f"--devkit ({DEVKIT}, which holds {DEVKIT_GROUND_TRUTH} and {DEVKIT_META}) or --val-labels "
        f"(LOC_val_solution.csv with columns {','.join(CSV_COLUMNS)})")


def read_val_csv(path: Path) -> dict[str, str]:
    labels = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ImageNetError(f"header has columns {reader.fieldnames}, missing {missing}",
                                file=f"{path}:1", key="--val-labels",
                                allowed="the LOC_val_solution.csv form 'ImageId,PredictionString'")
        for row in reader:
            tokens = (row["PredictionString"] or "").split()
            # PredictionString lists 'WNID x1 y1 x2 y2' per box; all boxes of a val image share its class
            if not tokens or not WNID.fullmatch(tokens[0]):
                raise ImageNetError(
                    f"PredictionString {row['PredictionString']!r} does not start with a WNID",
                    file=f"{path}:{reader.line_num}", key="PredictionString", allowed="'<wnid> x1 y1 x2 y2 ...', "
                    "e.g. 'n01440764 10 20 30 40'")
            labels[Path(row["ImageId"].strip()).stem] = tokens[0]
    return labels


def read_devkit_files(devkit: Path) -> tuple[bytes, bytes]:
    """The ground-truth text and meta.mat bytes, from the devkit tar(.gz) or its extracted folder (both are small)."""
    wanted = (DEVKIT_GROUND_TRUTH, DEVKIT_META)
    if devkit.is_dir():
        found = {name: next(devkit.rglob(PurePosixPath(name).name), None) for name in wanted}
        missing = [name for name, p in found.items() if p is None]
        if missing:
            raise ImageNetError(f"devkit folder lacks {missing}", file=devkit, key="--devkit",
                                allowed=f"the extracted {DEVKIT}")
        return found[DEVKIT_GROUND_TRUTH].read_bytes(), found[DEVKIT_META].read_bytes()
    contents: dict[str, bytes] = {}
    try:
        with tarfile.open(devkit, "r|*") as tar:
            for member in tar:
                for name in wanted:
                    if member.isfile() and member.name.endswith(name):
                        contents[name] = tar.extractfile(member).read()
    except tarfile.TarError as e:
        raise ImageNetError(f"not a readable tar archive ({e})", file=devkit, key="--devkit",
                            allowed=DEVKIT) from None
    missing = [name for name in wanted if name not in contents]
    if missing:
        raise ImageNetError(f"devkit archive has no member ending in {missing}", file=devkit,
                            key="--devkit", allowed=DEVKIT)
    return contents[DEVKIT_GROUND_TRUTH], contents[DEVKIT_META]


def wnid_by_ilsvrc_id(meta_mat: bytes, devkit: Path) -> dict[int, str]:
    """``meta.mat`` holds a struct array ``synsets`` whose ``ILSVRC2012_ID`` 1..1000 are the leaf classes."""
    import numpy as np
    from scipy.io import loadmat

    try:
        synsets = np.atleast_1d(loadmat(io.BytesIO(meta_mat), squeeze_me=True)["synsets"]).ravel()
        ids, wnids = synsets["ILSVRC2012_ID"], synsets["WNID"]
    except Exception as e:  # any malformed file: say which one and what was looked for
        raise ImageNetError(f"{DEVKIT_META} has no struct array 'synsets' with fields ILSVRC2012_ID and "
                            f"WNID ({e})", file=devkit, key="--devkit", allowed=DEVKIT) from None
    # MATLAB char arrays load as str, but some scipy/file versions give bytes
    return {int(i): w.decode() if isinstance(w, bytes) else str(w) for i, w in zip(ids, wnids)}


def val_labels_from_devkit(ground_truth: bytes, meta_mat: bytes, devkit: Path) -> dict[str, str]:
    """Line i of the ground truth is the ILSVRC2012_ID of ``ILSVRC2012_val_{i:08d}.JPEG``."""
    wnids = wnid_by_ilsvrc_id(meta_mat, devkit)
    labels = {}
    for number, line in enumerate(ground_truth.decode().splitlines(), start=1):
        where = f"{devkit}: {DEVKIT_GROUND_TRUTH}:{number}"
        try:
            ilsvrc_id = int(line)
        except ValueError:
            raise ImageNetError(f"{line!r} is not an integer", file=where, key="ILSVRC2012_ID",
                                allowed="an ILSVRC2012_ID per line") from None
        if ilsvrc_id not in wnids:
            raise ImageNetError(f"ILSVRC2012_ID {ilsvrc_id} is not in {DEVKIT_META}", file=where,
                                key="ILSVRC2012_ID", allowed=f"the ids of {DEVKIT_META}")
        labels[f"ILSVRC2012_val_{number:08d}"] = wnids[ilsvrc_id]
    return labels
