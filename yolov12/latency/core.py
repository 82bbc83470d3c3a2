"""``measure``: the latency matrix (model x device x precision x runtime x batch x imgsz x attention backend x scope).

Each cell (``yolov12.latency.cell``) is checked for availability, built, gated against the fp32 eager reference,
profiled once for the attention kernel that actually ran, and timed between two snapshots of the machine's
conditions: warm-up until both ``warmup_iters`` and ``warmup_s`` are reached, then single-stream iterations until
both ``min_iters`` and ``min_s`` are reached. Every per-iteration time is kept in the cell (compressed). An
unavailable or failing cell never stops the run.
"""

from __future__ import annotations

import copy
import math
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from . import gate as G
from .cell import Model, empty_cell, line, run_cell
from .env import capture_env, default_threads, device_name, load_average, result_filename
from .hardware import device_uuid
from .kernels import check_backend
from .names import SCHEMA_COLUMNS, SCOPES, STATUS  # noqa: F401  (re-exported)
from .pipeline import sample_images
from .runtimes import model_backend, weights_key
from .spec import ModelSpec, as_spec  # noqa: F401  (re-exported)
from .stats import SAMPLES_CODEC, TimingPlan


def _imgsz(v) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    h, w = v
    return (int(h), int(w))


def _seq(v, default) -> list:
    if v is None:
        return list(default)
    return [v] if isinstance(v, (str, int)) else list(v)


def measure(model=None, *, devices: Sequence[str] | str = ("cpu",), precisions: Sequence[str] | str = ("fp32",),
            runtimes: Sequence[str] | str = ("eager",), batches: Sequence[int] | int = (1,),
            imgszs: Sequence[int] | int = (640,), backends: Sequence[str | None] | str | None = (None,),
            scopes: Sequence[str] | str = ("forward",), threads: int | None = None, warmup_iters: int = 10,
            warmup_s: float = 1.0, min_iters: int = 50, min_s: float = 2.0, max_s: float | None = None,
            tolerances: dict[str, float] | None = None, fuse: bool = True, tf32: bool = False,
            workdir: str | Path | None = None, onnx_file: str | Path | None = None, compile_mode: str | None = None,
            opset: int | None = None, simplify: bool = True, conf: float = 0.25, iou: float = 0.7,
            max_det: int = 300, det_min_match: float = G.DET_MIN_MATCH, verbose: bool = True) -> dict:
    """Time ``model`` over the matrix; returns ``{"env", "method", "model", "cells"}`` (see docs/latency.md).

    model: a ``ModelSpec``, a dict of its fields, a checkpoint path (.pt), an Ultralytics YAML name (a peer, e.g.
        ``"yolov9t.yaml"``), an ``nn.Module`` (an Ultralytics model), or None (yolov12n).
    backends: attention backend per cell (None = as the model defines it): a value of the ``backend`` knob or
        ``sdpa_noflash`` (``yolov12.latency.kernels.backends()``).
    threads: CPU threads for PyTorch and ONNX Runtime (default: physical cores); set for the whole run and recorded.
    onnx_file: time this ONNX file in the ``onnxruntime`` cells instead of exporting the model (it is still gated
        against the model's eager fp32 outputs, so it must be an export of the same weights).
    """
    from ..errors import UserError

    devices, precisions, runtimes = _seq(devices, ["cpu"]), _seq(precisions, ["fp32"]), _seq(runtimes, ["eager"])
    batches, scopes = [int(b) for b in _seq(batches, [1])], _seq(scopes, ["forward"])
    imgszs = [imgszs] if isinstance(imgszs, int) else list(imgszs)
    backends = [backends] if backends is None or isinstance(backends, str) else list(backends)
    for s in scopes:
        if s not in SCOPES:
            raise UserError(f"scope {s!r} is not known", key="scopes", allowed=SCOPES)
    for b in backends:
        check_backend(b)
    plan = TimingPlan(warmup_iters, warmup_s, min_iters, min_s, max_s)
    threads = int(threads or default_threads())
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if verbose else (lambda msg: None)

    spec = as_spec(model)
    base = spec.build() if spec is not None else model
    if spec is not None:
        task = spec.task
    else:
        from ultralytics.nn.tasks import guess_model_task

        task = getattr(base, "task", None) or guess_model_task(base)
    name = spec.name if spec is not None else type(base).__name__
    base = copy.deepcopy(base).float().cpu().eval()
    if fuse and hasattr(base, "fuse"):
        base = base.fuse(verbose=False)
    nc = int(getattr(base, "nc", 0) or len(getattr(base, "names", {}) or {}) or 80)
    stride = int(max(getattr(base, "stride", torch.tensor([32])).max().item(), 32))
    key = weights_key(base)
    knob_backend = model_backend(base)
    options = {"compile_mode": compile_mode, "onnx_file": str(onnx_file) if onnx_file else None, "opset": opset,
               "simplify": simplify}
    m = Model(base, task, nc, stride, key, conf, iou, max_det, det_min_match, tolerances, options)

    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    env = capture_env(threads)
    tmp = tempfile.TemporaryDirectory(prefix="yolov12-latency-") if workdir is None else None
    wd = Path(workdir) if workdir is not None else Path(tmp.name)
    wd.mkdir(parents=True, exist_ok=True)
    cells: list[dict] = []
    references: dict[tuple, tuple] = {}
    try:
        for dev_str in devices:
            device = torch.device(dev_str)
            dev_label = "cpu" if device.type == "cpu" else f"cuda:{device.index or 0}"
            ids = {"model": name, "device": dev_label, "device_name": device_name(env, dev_label),
                   "device_uuid": device_uuid(device) if device.type == "cuda" else None, "threads": threads}
            for imgsz in map(_imgsz, imgszs):
                for batch in batches:
                    images = sample_images(batch)
                    for backend in backends:
                        for scope in scopes:
                            for precision in precisions:
                                for runtime in runtimes:
                                    setting = backend or knob_backend
                                    cell = empty_cell(**ids, precision=precision, runtime=runtime,
                                                      attn_backend=setting, backend=setting, batch=batch,
                                                      imgsz=imgsz[0] if imgsz[0] == imgsz[1] else
                                                      f"{imgsz[0]}x{imgsz[1]}", imgsz_hw=list(imgsz), scope=scope)
                                    if knob_backend == "none" and backend not in (None, "auto"):
                                        cell.update(status="unavailable",
                                                    reason="the model has no AreaAttention modules to set a backend on")
                                    else:
                                        run_cell(cell, m, device, precision, runtime, batch, imgsz, backend, scope,
                                                 images, threads, wd, plan, tf32, references)
                                    cells.append(cell)
                                    log(line(cell))
    finally:
        torch.set_num_threads(saved_threads)
        if tmp is not None:
            tmp.cleanup()
    env["loadavg_end"] = load_average()
    method = {**plan.as_dict(), "threads": threads, "fused": fuse, "tf32": tf32, "tolerances":
              {**G.TOLERANCES, **(tolerances or {})}, "det_iou": G.DET_IOU, "det_min_match": det_min_match,
              "conf": conf, "iou": iou, "max_det": max_det, "input": "Ultralytics assets/bus.jpg, letterboxed",
              "timers": {"cuda_events": "torch runtimes on CUDA, forward scope",
                         "perf_counter": "CPU, ONNX Runtime, TensorRT, end2end (device synchronised)"},
              "std": "sample (ddof=1)", "percentiles": "numpy.percentile (linear interpolation)",
              "throughput": "images/s = batch * 1000 / median_ms",
              "median_ci": "95 % percentile bootstrap of the median, 2000 resamples (yolov12.stats.bootstrap_ci)",
              "samples": SAMPLES_CODEC, "kernel": "torch.profiler over one warm forward (yolov12.latency.kernels)",
              "contention": "yolov12.latency.conditions.judge between snapshots at the start and end of timing"}
    model_info = {**(spec.as_dict() if spec is not None else {"name": name}), "task": task, "nc": nc,
                  "params_fused": sum(p.numel() for p in base.parameters()), "attn_backend_knob": knob_backend,
                  "weights_key": key}
    # strict JSON for every consumer: a non-finite error (NaN outputs) becomes None, the reason keeps the value
    return finite({"env": env, "method": method, "model": model_info, "cells": cells})


def write_results(result: dict, out_dir: str | Path | None = None, json_file: str | Path | None = None,
                  tag: str | None = None) -> list[Path]:
    """Write ``result``: one environment-named file per (device, precision) under ``out_dir``
    (``latency_[<tag>_]<hardware>_<device>_<precision>.json``) and/or the whole result to ``json_file``."""
    from ..io import write_json

    result = finite(result)
    written = []
    if out_dir is not None:
        groups: dict[tuple[str, str], list[dict]] = {}
        for c in result["cells"]:
            groups.setdefault((c["device"], c["precision"]), []).append(c)
        for (device, precision), cells in groups.items():
            path = Path(out_dir) / result_filename(result["env"], device, precision, tag)
            written.append(write_json(path, {**result, "cells": cells}, indent=1))
    if json_file is not None:
        written.append(write_json(json_file, result, indent=1))
    return written


def finite(obj):
    """A copy with NaN / infinite floats replaced by None (strict JSON); the reason text keeps the value."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def iter_ok(cells: Iterable[dict]) -> Iterable[dict]:
    return (c for c in cells if c["status"] == "ok")
