"""The hardware a job ran on, for MLflow tags and results: CPU model, host, and the GPUs it held (by NVML, with
UUIDs, so a number can be traced to a physical device)."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def visible_gpus() -> list[dict[str, Any]]:
    """The GPUs this process may use (CUDA_VISIBLE_DEVICES honoured), via NVML; [] without a driver."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001  (no driver: a CPU machine)
        return []
    try:
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        gpus = [{"index": i, "name": _s(pynvml.nvmlDeviceGetName(h)), "uuid": _s(pynvml.nvmlDeviceGetUUID(h))}
                for i, h in enumerate(handles)]
    finally:
        pynvml.nvmlShutdown()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return gpus
    chosen = []
    for token in filter(None, (t.strip() for t in visible.split(","))):
        match = [g for g in gpus if str(g["index"]) == token or g["uuid"].startswith(token)]
        chosen += match[:1]
    return chosen


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def hardware_tags(spec: dict[str, Any] | None = None) -> dict[str, str]:
    gpus = visible_gpus() if (spec or {}).get("resources", {}).get("gpus", 0) else []
    tags = {"hardware.cpu": cpu_model(), "hardware.host": socket.gethostname(),
            "hardware.gpus": ", ".join(f"{g['name']} ({g['uuid']})" for g in gpus) or "none"}
    if gpus:
        tags["hardware.gpu"] = gpus[0]["name"]
    return tags
