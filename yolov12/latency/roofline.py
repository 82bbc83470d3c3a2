"""Roofline of every timing cell: how far a measured latency is from what the device can do.

Peaks are measured on the device itself, never read from a spec sheet:

- compute: a square GEMM (``torch.mm``) per precision, repeated for a short while; the best repetition's FLOP/s
  (2 N^3 per product) is the peak. On a CPU it runs with the cell's thread count (the peak of 1 thread is not the
  peak of 16), so the CPU key includes the threads.
- memory: a copy probe (``dst.copy_(src)`` of a buffer far larger than the caches); bytes moved = 2 x size (one
  read, one write), best repetition.

A probe that cannot run (no kernel for that precision on this device) leaves that peak a gap (None) with its reason;
nothing is filled in from a data sheet. Peaks are cached per device in ``~/.cache/yolov12/roofline/<device-key>.json``
(``$XDG_CACHE_HOME`` when set; ``YOLOV12_ROOFLINE_DIR`` overrides the folder); a precision missing from the cache is
measured and added. The load average at the time of the probes is recorded with them: a peak measured while other
work ran is too low (delete the file to measure again).

Per cell (``annotate_cells``):

- FLOPs: the model's true FLOPs per image (``yolov12.latency.profile``: convolutions, linear layers and the attention
  matmuls, as they run) x batch; achieved FLOP/s = FLOPs / median latency.
- bytes moved (an estimate): the weights once (parameters x bytes per element of the precision) plus every
  activation once written and once read: the output of every non-view operator of one forward pass (counted by a
  ``TorchDispatchMode``), x 2, in the precision's element size, x batch. It ignores cache reuse (so it overstates
  DRAM traffic when activations fit in cache) and re-reads of an input by several consumers (understates it); it
  is the same rule for every cell, so cells compare.
- arithmetic intensity = FLOPs / bytes; attainable = min(peak FLOP/s, intensity x bandwidth); fraction of peak =
  achieved / peak FLOP/s; fraction of roof = achieved / attainable; bound = memory or compute (which roof applies).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import torch

from ..io import write_json

CACHE_ENV = "YOLOV12_ROOFLINE_DIR"
BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "bf16": 2}
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
GEMM_METHOD = "best of repeated torch.mm, 2*N^3 FLOPs per product"
COPY_METHOD = "best of repeated Tensor.copy_, 2 x buffer bytes (read + write) per copy"
BYTES_METHOD = ("weights once + every non-view operator output of one forward written and read once (x2), "
                "in the precision's element size")


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "yolov12" / "roofline"


def _cpu_name() -> str:
    from .. import cpu

    return cpu.model_name()


def device_name(device: str | torch.device) -> str:
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return _cpu_name()


def device_key(device: str | torch.device, threads: int | None = None) -> str:
    """File-safe key of a device: its name (and the thread count on a CPU, where the peak depends on it)."""
    dev = torch.device(device)
    name = re.sub(r"[^A-Za-z0-9]+", "-", device_name(dev)).strip("-").lower()
    if dev.type == "cpu":
        return f"cpu-{name}-t{int(threads or torch.get_num_threads())}"
    return f"cuda-{name}"


class _threads:
    """Run a CPU probe with ``n`` intra-op threads, restoring the caller's setting after."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        self.saved = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(int(self.n))

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _best_rate(step, work: float, dev: torch.device, seconds: float, min_reps: int = 3) -> tuple[float, int]:
    """Best work/s of repetitions of ``step`` within about ``seconds`` (after one untimed warm-up call)."""
    step()
    _sync(dev)
    best, reps, t_end = 0.0, 0, time.perf_counter() + seconds
    while reps < min_reps or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        step()
        _sync(dev)
        dt = time.perf_counter() - t0
        if dt > 0:
            best = max(best, work / dt)
        reps += 1
    return best, reps


def gemm_probe(device: str | torch.device = "cpu", precision: str = "fp32", n: int | None = None,
               seconds: float = 1.0, threads: int | None = None) -> dict[str, Any]:
    """Peak FLOP/s of a square GEMM in ``precision`` on ``device``: {flops_per_s, n, reps, method}."""
    dev = torch.device(device)
    n = int(n or (4096 if dev.type == "cuda" else 512))
    with _threads(threads if dev.type == "cpu" else None), torch.inference_mode():
        g = torch.Generator(device=dev).manual_seed(0)
        a = torch.rand(n, n, generator=g, device=dev).to(DTYPES[precision])
        b = torch.rand(n, n, generator=g, device=dev).to(DTYPES[precision])
        out = torch.empty(n, n, device=dev, dtype=DTYPES[precision])
        rate, reps = _best_rate(lambda: torch.mm(a, b, out=out), 2.0 * n ** 3, dev, seconds)
    return {"flops_per_s": rate, "n": n, "reps": reps, "method": GEMM_METHOD}


def copy_probe(device: str | torch.device = "cpu", mbytes: int | None = None, seconds: float = 1.0,
               threads: int | None = None) -> dict[str, Any]:
    """Memory bandwidth (bytes/s) of a large buffer copy on ``device``: {bytes_per_s, mbytes, reps, method}."""
    dev = torch.device(device)
    mbytes = int(mbytes or (1024 if dev.type == "cuda" else 128))
    with _threads(threads if dev.type == "cpu" else None), torch.inference_mode():
        src = torch.ones(mbytes * (1 << 20) // 4, device=dev)
        dst = torch.empty_like(src)
        rate, reps = _best_rate(lambda: dst.copy_(src), 2.0 * src.numel() * 4, dev, seconds)
    return {"bytes_per_s": rate, "mbytes": mbytes, "reps": reps, "method": COPY_METHOD}


def peaks(device: str | torch.device = "cpu", precisions=("fp32",), threads: int | None = None,
          seconds: float = 1.0, cache: bool = True) -> dict[str, Any]:
    """The device's measured peaks (cached): {device_key, device_name, gemm: {precision: probe | gap}, copy}."""
    dev = torch.device(device)
    threads = int(threads or torch.get_num_threads()) if dev.type == "cpu" else None
    key = device_key(dev, threads)
    path = cache_dir() / f"{key}.json"
    record: dict[str, Any] = {}
    if cache and path.is_file():
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            record = {}  # a damaged cache is measured again, never trusted
    record = {"device_key": key, "device_name": device_name(dev), "threads": threads,
              "torch": torch.__version__, "gemm": {}, **record}
    changed = False
    for p in precisions:
        if p in record["gemm"]:
            continue
        try:
            record["gemm"][p] = gemm_probe(dev, p, seconds=seconds, threads=threads)
        except (RuntimeError, NotImplementedError) as e:  # no GEMM kernel for this dtype here: a labelled gap
            record["gemm"][p] = {"flops_per_s": None, "reason": f"not measurable: {str(e).splitlines()[0][:200]}"}
        changed = True
    if "copy" not in record:
        record["copy"] = copy_probe(dev, seconds=seconds, threads=threads)
        changed = True
    if changed:
        record["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record["load_average"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        if cache:
            write_json(path, record, indent=1)
    return record


# ------------------------------------------------------------------------------------------- per-model costs
def activation_elements(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Elements written by the non-view operators of one forward pass of ``model`` on ``x``."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor) and not t._is_view():
                    Count.total += t.numel()
            return out

    with torch.inference_mode(), Count():
        model(x)
    return Count.total


def model_costs(model, imgsz: int | tuple[int, int]) -> dict[str, Any]:
    """Per image at ``imgsz``: true FLOPs, parameters and activation elements of the BN-fused model (fp32, CPU)."""
    import copy

    from .profile import profile
    from .spec import as_spec

    spec = as_spec(model)
    base = spec.build() if spec is not None else copy.deepcopy(model).float().cpu().eval()
    hw = (imgsz, imgsz) if isinstance(imgsz, int) else tuple(imgsz)
    flops = profile(base, imgsz=hw, timing=False)["gflops_true"] * 1e9
    fused = copy.deepcopy(base)
    if hasattr(fused, "fuse"):
        fused = fused.fuse(verbose=False)
    fused.eval()
    x = torch.rand(1, 3, *hw, generator=torch.Generator().manual_seed(0))
    return {"flops": flops, "params": sum(p.numel() for p in fused.parameters()),
            "activation_elements": activation_elements(fused, x), "imgsz": list(hw)}


def cell_roofline(cell: dict[str, Any], costs: dict[str, Any], peak: dict[str, Any]) -> dict[str, Any]:
    """The roofline numbers of one timed cell (see the module docstring); gaps stay None with a reason."""
    batch, precision = int(cell.get("batch") or 1), cell["precision"]
    size = BYTES_PER_ELEMENT[precision]
    flops = costs["flops"] * batch
    moved = costs["params"] * size + 2 * costs["activation_elements"] * size * batch
    seconds = cell["median_ms"] / 1e3
    gemm = (peak.get("gemm") or {}).get(precision) or {}
    peak_flops, bw = gemm.get("flops_per_s"), (peak.get("copy") or {}).get("bytes_per_s")
    achieved = flops / seconds
    intensity = flops / moved
    out = {"flops": flops, "bytes_moved": moved, "bytes_method": BYTES_METHOD, "achieved_flops_per_s": achieved,
           "arithmetic_intensity": intensity, "peak_flops_per_s": peak_flops, "peak_bytes_per_s": bw,
           "device_key": peak.get("device_key"), "fraction_of_peak": None, "fraction_of_roof": None,
           "attainable_flops_per_s": None, "bound": None}
    if peak_flops and bw:
        attainable = min(peak_flops, intensity * bw)
        out.update(fraction_of_peak=achieved / peak_flops, attainable_flops_per_s=attainable,
                   fraction_of_roof=achieved / attainable,
                   bound="memory" if intensity * bw < peak_flops else "compute")
    elif not peak_flops:
        out["reason"] = gemm.get("reason") or f"no {precision} GEMM peak measured"
    return out


def annotate_cells(cells: list[dict[str, Any]], model, seconds: float = 1.0, cache: bool = True
                   ) -> list[dict[str, Any]]:
    """Add ``cell["roofline"]`` to every timed (status ok) cell of ``cells`` in place; returns ``cells``.

    ``model``: what the cells timed (a ModelSpec, a dict of its fields, a checkpoint path or an nn.Module). Costs
    are computed once per image size, peaks once per (device, threads)."""
    costs: dict[tuple, dict] = {}
    measured: dict[tuple, dict] = {}
    timed = [c for c in cells if c.get("status") == "ok" and c.get("median_ms")]
    for cell in timed:
        hw = cell.get("imgsz_hw") or cell["imgsz"]
        if isinstance(hw, str):  # "HxW" of a non-square cell
            hw = hw.split("x")
        hw = (int(hw), int(hw)) if isinstance(hw, (int, float)) else tuple(int(v) for v in hw)
        if hw not in costs:
            try:
                costs[hw] = model_costs(model, hw)
            except Exception as e:  # noqa: BLE001  (the timings stand without it: the roofline is a gap, said why)
                costs[hw] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"}
        if "error" in costs[hw]:
            cell["roofline"] = {"reason": f"model costs not measurable: {costs[hw]['error']}"}
            continue
        dev = str(cell["device"])
        threads = cell.get("threads") if torch.device(dev).type == "cpu" else None
        key = (dev, threads)
        precisions = sorted({c["precision"] for c in timed if str(c["device"]) == dev})
        if key not in measured:
            measured[key] = peaks(dev, precisions, threads=threads, seconds=seconds, cache=cache)
        cell["roofline"] = cell_roofline(cell, costs[hw], measured[key])
    return cells


def roofline_metrics(cells: list[dict[str, Any]]) -> dict[str, float]:
    """Per-cell MLflow metrics (``roofline/<device>_<precision>_<runtime>_<backend>/<name>``)."""
    metrics = {}
    for c in cells:
        r = c.get("roofline")
        if not r:
            continue
        key = f"{str(c['device']).replace(':', '')}_{c['precision']}_{c['runtime']}_{c.get('backend')}"
        for name in ("achieved_flops_per_s", "arithmetic_intensity", "fraction_of_peak", "fraction_of_roof",
                     "peak_flops_per_s", "peak_bytes_per_s"):
            v = r.get(name)
            if isinstance(v, (int, float)) and math.isfinite(v):
                metrics[f"roofline/{key}/{name}"] = float(v)
    return metrics


ROOFLINE_COLUMNS = ("flops", "bytes_moved", "achieved_flops_per_s", "arithmetic_intensity", "peak_flops_per_s",
                    "peak_bytes_per_s", "fraction_of_peak", "fraction_of_roof", "bound", "device_key")


def roofline_columns(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's roofline as flat ``roofline_<name>`` columns (for latency.csv; None where not measured)."""
    r = cell.get("roofline") or {}
    return {f"roofline_{k}": r.get(k) for k in ROOFLINE_COLUMNS}
