"""Conditions of a measurement: was anything else using the machine while we timed?

    start = snapshot("cuda:0"); ...timed work...; end = snapshot("cuda:0")
    contended, reason = judge(start, end)            # own CPU time and wall time from the two snapshots
    record = conditions_record(start, end)           # the numbers judge used, for the result file

A snapshot holds the load average, the machine's CPU time counters (/proc/stat), this process's CPU time, the clock,
and on a GPU (NVML, ``pynvml``): the processes on the device, SM / memory clocks, temperature, power and the clock
event ("throttle") reasons. ``judge`` flags a measurement as contended when

- other processes kept the CPUs busy: (busy CPU time of the machine - this process's CPU time) / (wall time x CPUs)
  above ``OTHER_CPU_MAX`` (10 % of the cores) by more than the counters' resolution (/proc/stat counts in clock
  ticks, 10 ms, so a short window is judged only on what it can resolve);
- the hypervisor took more than ``STEAL_MAX`` (5 %) of the CPUs' time (steal);
- another process was on the GPU;
- the GPU was slowed down for heat or power (thermal / power-cap / hardware slowdown clock event reasons).

The workflow reuses ``snapshot`` / ``judge`` for a node-level record. Reading a counter never fails: what cannot be
read is ``None`` and is not judged.
"""

from __future__ import annotations

import os
import time

OTHER_CPU_MAX = 0.10  # fraction of all CPUs busy with other processes during the measurement
STEAL_MAX = 0.05  # fraction of all CPUs' time taken by the hypervisor
# NVML clock event reasons that mean "slowed down", by bit; idle, application clocks and sync boost are benign
SLOWDOWN_REASONS = {0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x20: "sw_thermal", 0x40: "hw_thermal",
                    0x80: "hw_power_brake"}
BENIGN_REASONS = {0x1: "gpu_idle", 0x2: "applications_clocks", 0x10: "sync_boost", 0x100: "display_clocks"}
TICK_S = 1.0 / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


def _proc_stat() -> dict | None:
    """Machine CPU time (seconds): busy, idle, steal; and the number of CPUs. psutil reads /proc/stat's aggregate
    line on Linux (the same clock-tick counters); a field a platform lacks counts 0."""
    import psutil

    try:
        t = psutil.cpu_times()
    except (OSError, psutil.Error):
        return None
    f = {k: getattr(t, k, 0.0) for k in ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")}
    return {"busy_s": f["user"] + f["nice"] + f["system"] + f["irq"] + f["softirq"],
            "idle_s": f["idle"] + f["iowait"], "steal_s": f["steal"], "ncpu": psutil.cpu_count()}


def _gpu(device) -> dict | None:
    from .hardware import device_uuid, nvml, nvml_handle

    nv = nvml()
    h = nvml_handle(device)
    if nv is None or h is None:
        return {"available": False, "uuid": device_uuid(device)}

    def get(fn, *a):
        try:
            return fn(h, *a)
        except Exception:  # noqa: BLE001  (not every GPU / driver / sandbox reports every field)
            return None

    procs = []
    for fn in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        for p in get(getattr(nv, fn)) or []:
            procs.append({"pid": int(p.pid), "used_mb": round(p.usedGpuMemory / 2**20) if p.usedGpuMemory else None})
    reasons_fn = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
        nv.nvmlDeviceGetCurrentClocksThrottleReasons
    reasons = get(reasons_fn)
    util = get(nv.nvmlDeviceGetUtilizationRates)
    power = get(nv.nvmlDeviceGetPowerUsage)
    return {"available": True, "uuid": device_uuid(device), "processes": procs,
            "sm_clock_mhz": get(nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_SM),
            "mem_clock_mhz": get(nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_MEM),
            "temperature_c": get(nv.nvmlDeviceGetTemperature, nv.NVML_TEMPERATURE_GPU),
            "power_w": power / 1000.0 if power is not None else None,
            "utilization_gpu": util.gpu if util is not None else None,
            "clock_event_reasons": reasons,
            "clock_event_names": None if reasons is None else
            [n for b, n in {**SLOWDOWN_REASONS, **BENIGN_REASONS}.items() if reasons & b]}


def snapshot(device="cpu") -> dict:
    """The machine's state now, as seen from this process (see the module docstring)."""
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    snap = {"time": time.time(), "monotonic_s": time.monotonic(), "pid": os.getpid(), "loadavg": load,
            "cpu": _proc_stat(), "process_cpu_s": time.process_time(), "device": str(device)}
    if str(device).startswith("cuda"):
        snap["gpu"] = _gpu(device)
    return snap


def _own_cuda_context(device) -> bool:
    try:
        import torch

        return torch.cuda.is_initialized()
    except Exception:  # noqa: BLE001
        return False


def other_gpu_processes(snap: dict) -> list[int] | None:
    """PIDs of other processes on the snapshot's GPU (None: not readable). NVML reports host PIDs: inside a PID
    namespace (a container) our own PID is not among them, and one process on the list is taken to be ours."""
    gpu = snap.get("gpu") or {}
    if not gpu.get("available"):
        return None
    pids = sorted({p["pid"] for p in gpu.get("processes", [])})
    if snap["pid"] in pids:
        return [p for p in pids if p != snap["pid"]]
    return pids[1:] if pids and _own_cuda_context(snap["device"]) else pids


def conditions_record(start: dict, end: dict, own_cpu_s: float | None = None, wall_s: float | None = None) -> dict:
    """The derived numbers of a measurement window: other processes' share of the CPUs, steal, GPU state."""
    wall = wall_s if wall_s is not None else end["monotonic_s"] - start["monotonic_s"]
    own = own_cpu_s if own_cpu_s is not None else end["process_cpu_s"] - start["process_cpu_s"]
    rec: dict = {"wall_s": wall, "own_cpu_s": own, "other_cpu_s": None, "other_cpu_frac": None,
                 "other_cpu_frac_resolution": None, "steal_frac": None, "ncpu": None, "other_gpu_pids": None,
                 "gpu_slowdown": None,
                 "thresholds": {"other_cpu_frac": OTHER_CPU_MAX, "steal_frac": STEAL_MAX}}
    a, b = start.get("cpu"), end.get("cpu")
    if a and b and wall > 0 and b["ncpu"]:
        capacity = wall * b["ncpu"]
        # tick-sampled counters: +-1 tick per CPU at each end of the window
        resolution = 2 * TICK_S * b["ncpu"] / capacity
        other = max(0.0, (b["busy_s"] - a["busy_s"]) - own)
        rec.update(ncpu=b["ncpu"], other_cpu_s=other, other_cpu_frac=other / capacity,
                   other_cpu_frac_resolution=resolution, steal_frac=(b["steal_s"] - a["steal_s"]) / capacity)
    if "gpu" in end:
        pids = [other_gpu_processes(s) for s in (start, end) if "gpu" in s]
        rec["other_gpu_pids"] = None if any(p is None for p in pids) else sorted({x for p in pids for x in p})
        bits = [s["gpu"].get("clock_event_reasons") for s in (start, end) if s.get("gpu", {}).get("available")]
        if bits and all(x is not None for x in bits):
            rec["gpu_slowdown"] = sorted({n for x in bits for bit, n in SLOWDOWN_REASONS.items() if x & bit})
        for k in ("sm_clock_mhz", "mem_clock_mhz", "temperature_c", "power_w"):
            rec[k] = [s.get("gpu", {}).get(k) for s in (start, end)]
    return rec


def judge(start: dict, end: dict, own_cpu_s: float | None = None, wall_s: float | None = None) -> tuple[bool, str]:
    """(contended, reason) for a measurement between two snapshots; reason is "" when not contended.

    own_cpu_s / wall_s: this process's CPU time and the wall time of the measurement (default: from the snapshots).
    """
    return verdict(conditions_record(start, end, own_cpu_s, wall_s))


def verdict(rec: dict) -> tuple[bool, str]:
    """(contended, reason) from a ``conditions_record``."""
    reasons = []
    frac, res = rec.get("other_cpu_frac"), rec.get("other_cpu_frac_resolution")
    if frac is not None and frac - res > OTHER_CPU_MAX:
        reasons.append(f"other processes kept {frac:.0%} of the {rec['ncpu']} CPUs busy (threshold "
                       f"{OTHER_CPU_MAX:.0%}, resolution {res:.0%})")
    if rec.get("steal_frac") is not None and rec["steal_frac"] > STEAL_MAX:
        reasons.append(f"the hypervisor took {rec['steal_frac']:.0%} of the CPUs' time (steal; threshold "
                       f"{STEAL_MAX:.0%})")
    if rec.get("other_gpu_pids"):
        reasons.append(f"{len(rec['other_gpu_pids'])} other process(es) on the GPU (pids {rec['other_gpu_pids']})")
    if rec.get("gpu_slowdown"):
        reasons.append(f"GPU clocks slowed down: {', '.join(rec['gpu_slowdown'])}")
    return bool(reasons), "; ".join(reasons)
