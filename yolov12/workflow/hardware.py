"""The hardware a job ran on, for MLflow tags and the node's device pool: the CPU model, the host, and the GPUs this
process may use, identified by NVML UUID (the latency harness's own records: ``yolov12.latency.hardware`` / ``env``),
so a number can be traced to a physical device."""

from __future__ import annotations

import os
import socket
from typing import Any

from ..latency.env import cpu_info
from ..latency.hardware import normalise_uuid, nvml_gpus


def cpu_model() -> str:
    return cpu_info()["cpu_model"]


def visible_gpus() -> list[dict[str, Any]]:
    """NVML's GPUs that this process may use (CUDA_VISIBLE_DEVICES honoured, by index or UUID); [] without a
    driver. Each keeps NVML's record (uuid, name, memory, compute capability, ...)."""
    gpus = nvml_gpus()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return gpus
    chosen = []
    for token in filter(None, (t.strip() for t in visible.split(","))):
        uuid = normalise_uuid(token)
        chosen += [g for g in gpus if str(g["nvml_index"]) == token or
                   (uuid and normalise_uuid(g["uuid"]) or "").startswith(uuid or "\0")][:1]
    return chosen


def hardware_tags(spec: dict[str, Any] | None = None) -> dict[str, str]:
    gpus = visible_gpus() if (spec or {}).get("resources", {}).get("gpus", 0) else []
    tags = {"hardware.cpu": cpu_model(), "hardware.host": socket.gethostname(),
            "hardware.gpus": ", ".join(f"{g['name']} ({g['uuid']})" for g in gpus) or "none"}
    if gpus:
        tags["hardware.gpu"] = gpus[0]["name"]
    return tags
