"""Where a job runs and what it reads, from what the workflow hands it (its GPU count, its data manifest): shared
by the plan (the parse) and the jobs, which must not import each other. No torch."""

from __future__ import annotations

import os


def device_string(gpus: int) -> str:
    return "cpu" if int(gpus) == 0 else ",".join(str(i) for i in range(int(gpus)))


def data_path(manifest: str, task: str) -> str:
    """What Ultralytics trains / validates on, from the manifest a data rule made (the inverse of Plan.dataset)."""
    root, name = os.path.dirname(manifest), os.path.basename(manifest)
    if name == "coco.json":
        return f"{root}/coco-{task}.yaml"
    if name in ("imagenet.json", "dota.yaml") or task == "classify":
        return manifest if name == "dota.yaml" else root
    return f"{root}/data.yaml"
