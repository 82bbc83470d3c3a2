"""Hardware identity: GPUs through NVML matched to torch devices by UUID, and the CPU's vector instruction sets.

A CUDA index is not an identity (``CUDA_VISIBLE_DEVICES`` reorders devices; NVML and CUDA may count differently), a
UUID is: every GPU record carries the UUID, and NVML's facts (driver, memory, clocks) are attached to the torch
device with the same UUID. Nothing here fails for lack of NVML or a GPU: what cannot be read is ``None``.
"""

from __future__ import annotations

import os

# the /proc/cpuinfo flags that decide which CPU kernels run (oneDNN, ATen's vectorised code, ONNX Runtime's MLAS)
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16")

_nvml_state: dict = {}


def nvml():
    """The initialised ``pynvml`` module (nvidia-ml-py), or None when it or the driver is missing."""
    if "module" not in _nvml_state:
        try:
            import pynvml

            pynvml.nvmlInit()  # idempotent per process; never shut down: other code may hold handles
            _nvml_state["module"] = pynvml
        except Exception as e:  # noqa: BLE001  (no driver, no library, a sandbox without NVML)
            _nvml_state["module"] = None
            _nvml_state["error"] = f"{type(e).__name__}: {e}"
    return _nvml_state["module"]


def nvml_error() -> str | None:
    nvml()
    return _nvml_state.get("error")


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def normalise_uuid(uuid) -> str | None:
    """'GPU-6f2c...' (NVML) and '6f2c...' (torch) -> '6f2c...' (lower case), so the two can be compared."""
    if uuid is None:
        return None
    s = _text(uuid).strip().lower()
    for prefix in ("gpu-", "mig-"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return s or None


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001  (a field this GPU or driver does not report)
        return None


def nvml_gpus() -> list[dict]:
    """Every GPU NVML sees: index, uuid, name, driver, memory, compute capability, PCI bus id."""
    nv = nvml()
    if nv is None:
        return []
    out = []
    driver = _try(lambda: _text(nv.nvmlSystemGetDriverVersion()))
    for i in range(_try(nv.nvmlDeviceGetCount) or 0):
        h = _try(nv.nvmlDeviceGetHandleByIndex, i)
        if h is None:
            continue
        mem = _try(nv.nvmlDeviceGetMemoryInfo, h)
        cc = _try(nv.nvmlDeviceGetCudaComputeCapability, h)
        pci = _try(nv.nvmlDeviceGetPciInfo, h)
        out.append({"nvml_index": i, "uuid": _try(lambda: _text(nv.nvmlDeviceGetUUID(h))),
                    "name": _try(lambda: _text(nv.nvmlDeviceGetName(h))), "driver": driver,
                    "memory_total_mb": round(mem.total / 2**20) if mem is not None else None,
                    "compute_capability": f"{cc[0]}.{cc[1]}" if cc else None,
                    "pci_bus_id": _text(pci.busId) if pci is not None else None,
                    "power_limit_w": _try(lambda: nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0),
                    "max_sm_clock_mhz": _try(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_SM),
                    "max_mem_clock_mhz": _try(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_MEM)})
    return out


def torch_gpus() -> list[dict]:
    """Every CUDA device torch sees, with its UUID and NVML's record of the GPU with the same UUID (``nvml``)."""
    import torch

    if not torch.cuda.is_available():
        return []
    by_uuid = {normalise_uuid(g["uuid"]): g for g in nvml_gpus() if g["uuid"]}
    out = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        uuid = normalise_uuid(getattr(p, "uuid", None))
        out.append({"index": i, "name": p.name, "uuid": uuid, "capability": f"{p.major}.{p.minor}",
                    "memory_gb": round(p.total_memory / 2**30, 2), "sm_count": p.multi_processor_count,
                    "bf16": bool(torch.cuda.is_bf16_supported()), "nvml": by_uuid.get(uuid)})
    return out


def nvml_handle(device) -> object | None:
    """NVML handle of a torch CUDA device (``"cuda:N"`` or ``torch.device``), found by UUID; None without NVML."""
    import torch

    nv = nvml()
    dev = torch.device(device)
    if nv is None or dev.type != "cuda" or not torch.cuda.is_available():
        return None
    uuid = normalise_uuid(getattr(torch.cuda.get_device_properties(dev.index or 0), "uuid", None))
    for g in nvml_gpus():
        if uuid is not None and normalise_uuid(g["uuid"]) == uuid:
            return _try(nv.nvmlDeviceGetHandleByIndex, g["nvml_index"])
    return None


def device_uuid(device) -> str | None:
    import torch

    dev = torch.device(device)
    if dev.type != "cuda" or not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count():
        return None
    return normalise_uuid(getattr(torch.cuda.get_device_properties(dev.index or 0), "uuid", None))


def cpu_isa() -> dict:
    """The CPU's vector ISA: the relevant /proc/cpuinfo flags and the level PyTorch's CPU kernels dispatch to."""
    from .. import cpu

    flags = cpu.isa_flags()  # psutil lists no flags: yolov12.cpu reads the kernel's
    capability = None
    try:
        import torch

        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # noqa: BLE001
        pass
    return {"cpu_isa": [f for f in ISA_FLAGS if f in flags], "torch_cpu_capability": capability,
            "aten_cpu_capability_env": os.environ.get("ATEN_CPU_CAPABILITY")}
