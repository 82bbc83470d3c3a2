"""Job identities: what determines a job's result, in one canonical form, and its digest (docs/identity.md).

A job's identity is the ONLY thing Snakemake watches for it (its ``identity`` param) and the only thing its run
directory is named from, so

- an edit that changes a result (a recipe key, a knob, the data) gives another identity: another folder, a rerun;
- an edit that cannot change it (resources, ``--cores``, the tracking URI, where the checkout lives, a variant's
  name, a note) gives the same identity: nothing reruns.

Canonical: keys sorted, integer-valued floats written as integers (``1.0`` is ``1``: YAML's ``seeds: [1.0]`` and
``[1]`` are one training). Light: no torch, no Ultralytics; the only file it writes is the fingerprint cache of real
datasets, under ``.snakemake/`` (Snakemake's own folder in the working directory).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

DIGEST_CHARS = 12
CACHE = Path(".snakemake") / "yolov12-dataset-fingerprints.json"


def canonical(value: Any) -> Any:
    """``value`` with mappings sorted by key, tuples as lists and integer-valued floats as integers."""
    if isinstance(value, dict):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def dumps(value: Any) -> str:
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"))


def digest(value: Any) -> str:
    return hashlib.sha256(dumps(value).encode()).hexdigest()[:DIGEST_CHARS]


def directory(prefix: str, value: Any) -> str:
    """A run directory: a readable prefix and the identity's digest."""
    return f"{prefix}-{digest(value)}"


# ------------------------------------------------------------------------------------------------ datasets
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cached(key: str, compute) -> Any:
    """``compute()`` cached in ``.snakemake/`` under ``key`` (a path with its mtime and size): a COCO annotation
    file is hashed once, not at every parse. Without a ``.snakemake/`` folder (a first run), nothing is cached."""
    cache = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
    if key in cache:
        return cache[key]
    value = compute()
    if CACHE.parent.is_dir():
        cache[key] = value
        tmp = CACHE.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, sort_keys=True))
        os.replace(tmp, CACHE)
    return value


def file_fingerprint(path: Path) -> dict[str, Any]:
    st = path.stat()
    key = f"{path.resolve()}:{st.st_mtime_ns}:{st.st_size}"
    return {"sha256": _cached(key, lambda: _sha256(path)), "bytes": st.st_size}


def entry_count(folder: Path) -> int:
    """Images (or class folders) in a folder; keyed on the folder's mtime, which adding or removing one changes."""
    st = folder.stat()
    key = f"{folder.resolve()}:{st.st_mtime_ns}:entries"
    return _cached(key, lambda: sum(1 for _ in folder.iterdir()))


def real_dataset(name: str, root: str | None, annotations: list[str], folders: list[str]) -> dict[str, Any]:
    """A real dataset by content: its annotation files' checksums and its image counts (paths relative to its
    root, never the root itself: moving the data changes nothing). A file not there yet is recorded as missing:
    preparing it later changes the identity, which is what should happen."""
    out: dict[str, Any] = {"dataset": name}
    if not root:
        return {**out, "root": None}
    base = Path(root)
    for rel in annotations:
        p = base / rel
        out[rel] = file_fingerprint(p) if p.is_file() else "missing"
    for rel in folders:
        p = base / rel
        out[f"{rel}/entries"] = entry_count(p) if p.is_dir() else "missing"
    return out
