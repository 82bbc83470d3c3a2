"""Environment capture for every latency result, and file names that carry the environment.

Nothing here fails for lack of a tool or a file: a value that cannot be read is ``None``.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import re
import shutil
import socket
import subprocess
from pathlib import Path

from .. import cpu
from ..gitinfo import git_commit
from .hardware import cpu_isa

NVIDIA_SMI_FIELDS = ("name", "driver_version", "pstate", "clocks.sm", "clocks.max.sm", "clocks.mem", "clocks.max.mem",
                     "power.limit", "temperature.gpu", "memory.total", "persistence_mode")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_info() -> dict:
    """CPU model, logical CPUs, physical cores and clock (psutil; the model name from yolov12.cpu, which psutil
    lacks), and what only sysfs / cgroups say on Linux: cpu0's governor and clocks, the CPU quota."""
    cpufreq = "/sys/devices/system/cpu/cpu0/cpufreq/"
    cur = _read(cpufreq + "scaling_cur_freq")
    mx = _read(cpufreq + "cpuinfo_max_freq")
    return {
        "cpu_model": cpu.model_name(),
        "cpu_logical": cpu.logical_cpus(),
        "cpu_physical_cores": cpu.physical_cores(),
        "cpu_affinity": cpu.affinity(),
        "cpu_mhz": cpu.current_mhz(),
        "cpu_governor": _read(cpufreq + "scaling_governor"),
        "cpu_cur_khz": int(cur) if cur and cur.isdigit() else None,
        "cpu_max_khz": int(mx) if mx and mx.isdigit() else None,
        "cpu_quota": _read("/sys/fs/cgroup/cpu.max"),
    }


def default_threads() -> int:
    """Physical cores available to this process (at most the CPUs in its affinity mask)."""
    info = cpu_info()
    n = info["cpu_physical_cores"] or info["cpu_logical"] or 1
    return max(1, min(n, info["cpu_affinity"] or n))


def nvidia_smi() -> list[dict] | None:
    """Per-GPU fields from nvidia-smi (clocks, driver, power limit); None when it is absent or fails."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, f"--query-gpu={','.join(NVIDIA_SMI_FIELDS)}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    rows = []
    for line in out.stdout.strip().splitlines():
        values = [v.strip() for v in line.split(",")]
        rows.append(dict(zip(NVIDIA_SMI_FIELDS, values)))
    return rows


def gpu_info() -> dict:
    """CUDA devices as torch sees them, each with its UUID and NVML's record of the same GPU (``hardware``)."""
    import torch

    from .hardware import nvml_error, nvml_gpus, torch_gpus

    info: dict = {"cuda_available": torch.cuda.is_available(), "cuda_runtime": torch.version.cuda, "gpus": []}
    try:
        info["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    except Exception:  # noqa: BLE001  (a broken CUDA install must not stop the capture)
        info["cudnn"] = None
    if info["cuda_available"]:
        info["gpus"] = torch_gpus()
        info["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
        info["tf32_cudnn"] = torch.backends.cudnn.allow_tf32
        info["cudnn_benchmark"] = torch.backends.cudnn.benchmark
    info["nvml_gpus"] = nvml_gpus()
    info["nvml_error"] = nvml_error() if not info["nvml_gpus"] else None
    smi = nvidia_smi()
    info["nvidia_smi"] = smi
    info["driver"] = (info["nvml_gpus"][0]["driver"] if info["nvml_gpus"] else None) or \
        (smi[0].get("driver_version") if smi else None)
    return info


def software() -> dict:
    import torch

    ort_providers = None
    try:
        import onnxruntime

        ort_providers = onnxruntime.get_available_providers()
    except Exception:  # noqa: BLE001
        pass
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "ultralytics": _version("ultralytics"),
        "onnx": _version("onnx"),
        "onnxruntime": _version("onnxruntime") or _version("onnxruntime-gpu"),
        "onnxruntime_providers": ort_providers,
        "onnxslim": _version("onnxslim"),
        "tensorrt": _version("tensorrt") or _version("tensorrt-cu12") or _version("tensorrt_cu12"),
        "flash_attn": _version("flash-attn") or _version("flash_attn"),
        "numpy": _version("numpy"),
        "yolov12_suite": _version("yolov12-suite"),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "openmp": torch.backends.openmp.is_available(),
    }


def load_average() -> list[float] | None:
    """1/5/15-minute load averages: other work on the machine shows here and explains noisy timings."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def capture_env(threads: int | None = None) -> dict:
    """Everything that can explain a latency number: hardware, clocks, drivers, library versions, thread counts."""
    import torch

    return {
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        **cpu_info(),
        **cpu_isa(),
        **gpu_info(),
        "software": software(),
        "threads": threads if threads is not None else torch.get_num_threads(),
        "loadavg": load_average(),
        "interop_threads": torch.get_num_interop_threads(),
        "git_commit": git_commit(),
    }


def slug(text: str) -> str:
    s = re.sub(r"\(r\)|\(tm\)|\bcpu\b|@.*$|\bprocessor\b", " ", (text or "").lower())
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    s = re.sub(r"-+", "-", s)
    return s[:40].strip("-") or "unknown"


def device_name(env: dict, device: str) -> str:
    """Human-readable name of ``device`` ("cpu" | "cuda:N") from a captured environment."""
    if device == "cpu":
        return env.get("cpu_model") or "cpu"
    idx = int(device.split(":")[1]) if ":" in device else 0
    gpus = env.get("gpus") or []
    return gpus[idx]["name"] if idx < len(gpus) else device


def hardware_slug(env: dict, device: str) -> str:
    """``amd-epyc-2c`` (CPU model + physical cores) or ``nvidia-h100-80gb-hbm3`` (GPU name)."""
    if device == "cpu":
        cores = env.get("cpu_physical_cores") or env.get("cpu_logical")
        return f"{slug(env.get('cpu_model') or 'cpu')}-{cores}c"
    return slug(device_name(env, device))


def result_filename(env: dict, device: str, precision: str, tag: str | None = None) -> str:
    """``latency_[<tag>_]<hardware>_<device>_<precision>.json``: results of several machines sit side by side."""
    parts = ["latency"] + ([slug(tag)] if tag else []) + [hardware_slug(env, device), device.replace(":", ""),
                                                           precision]
    return "_".join(parts) + ".json"
