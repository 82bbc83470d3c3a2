"""Where a job runs and what it reads, from what the workflow hands it (its GPU count, its data manifest): shared
by the plan (the parse) and the jobs, which must not import each other. No torch."""

from __future__ import annotations

import os

from ..registry import REAL_DATA, TASK_TABLE

SYNTHETIC_MANIFEST = "dataset.json"  # what 'yolov12 data synth' writes beside a synthetic set


def device_string(gpus: int) -> str:
    return "cpu" if int(gpus) == 0 else ",".join(str(i) for i in range(int(gpus)))


def data_path(manifest: str, task: str) -> str:
    """What Ultralytics trains / validates on, from the manifest a data rule made (the inverse of Plan.dataset)."""
    root, name = os.path.dirname(manifest), os.path.basename(manifest)
    real = next((d for d in REAL_DATA.values() if d.manifest == name), None)
    if real is not None:
        return prepared_path(root, real.data.format(task=task))
    return root if TASK_TABLE[task].classification else f"{root}/data.yaml"


def prepared_path(root: str, relative: str) -> str:
    """A path inside a prepared dataset folder; "" is the folder itself (classification trains on it)."""
    return f"{root}/{relative}" if relative else root
