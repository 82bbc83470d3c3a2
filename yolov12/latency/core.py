"""``measure``: the latency matrix (model x device x precision x runtime x batch x imgsz x attention backend x scope).

Every cell is (1) checked for availability, (2) built, (3) run once on the reference input and compared with the fp32
eager reference (correctness gate; a failing cell is reported ``failed`` with its error and not timed), (4) timed:
warm-up until both ``warmup_iters`` and ``warmup_s`` are reached, then single-stream iterations until both
``min_iters`` and ``min_s`` are reached. An unavailable or failing cell never stops the run.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from . import gate as G
from .env import capture_env, default_threads, device_name, load_average, result_filename
from .pipeline import Postprocess, Preprocess, sample_images
from .runtimes import (BUILDERS, PRECISIONS, CellContext, Prepared, Unavailable, check_static, model_backend,
                       primary_outputs, resolved_kernel, set_attention_backend, weights_key)
from .stats import TimingPlan, run_timed, summarize

SCOPES = ("forward", "end2end")
SCHEMA_COLUMNS = ("device", "device_name", "precision", "runtime", "attn_backend", "batch", "imgsz", "scope", "status",
                  "reason", "mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms", "std_ms", "cv", "throughput_ips",
                  "iters", "threads")
STATUS = ("ok", "failed", "unavailable")


@dataclass
class ModelSpec:
    """A model of the registry (family / scale / task / hierarchy / nc / knobs) or a checkpoint (.pt)."""

    family: str = "yolov12"
    scale: str = "n"
    task: str = "detect"
    hierarchy: str = "full"
    nc: int | None = None
    knobs: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None

    @property
    def name(self) -> str:
        if self.checkpoint:
            return Path(self.checkpoint).stem
        from ..models import definition_name

        base = definition_name(self.family, self.task, self.hierarchy).replace("yolov12", f"yolov12{self.scale}", 1)
        knobs = ",".join(f"{k}={v}" for k, v in sorted(self.knobs.items()))
        return base + (f"[{knobs}]" if knobs else "")

    def build(self) -> nn.Module:
        """fp32 model on the CPU in eval mode (random weights for a registry spec)."""
        if self.checkpoint:
            path = Path(self.checkpoint)
            if not path.is_file():
                raise FileNotFoundError(f"checkpoint {path} does not exist")
            from ultralytics.nn.tasks import load_checkpoint

            model, ckpt = load_checkpoint(str(path), device=torch.device("cpu"))
            if self.knobs:
                raise ValueError("knobs cannot be applied to a checkpoint (its architecture is fixed); the attention "
                                 "backend can be chosen with backends=[...]")
            self.task = getattr(model, "task", None) or ckpt.get("train_args", {}).get("task", "detect")
            return model.float().eval()
        from ..models import torch_model

        return torch_model(self.family, self.scale, self.task, self.hierarchy, self.nc, **self.knobs).float().eval()

    def as_dict(self) -> dict:
        if self.checkpoint:
            return {"checkpoint": self.checkpoint, "task": self.task, "name": self.name}
        return {**asdict(self), "name": self.name}


def as_spec(model) -> ModelSpec | None:
    if model is None:
        return ModelSpec()
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, dict):
        return ModelSpec(**model)
    if isinstance(model, (str, Path)):
        return ModelSpec(checkpoint=str(model))
    return None


def _imgsz(v) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    h, w = v
    return (int(h), int(w))


def _seq(v, default) -> list:
    if v is None:
        return list(default)
    return [v] if isinstance(v, (str, int)) else list(v)


def _precision_context(device: torch.device, tf32: bool):
    """fp32 means fp32: TF32 off for cuBLAS and cuDNN unless asked for (restored afterwards)."""
    @contextlib.contextmanager
    def ctx():
        if device.type != "cuda":
            yield
            return
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    return ctx()


def _is_unsupported(e: BaseException) -> bool:
    text = str(e)
    return isinstance(e, NotImplementedError) or "not implemented for" in text or "NOT_IMPLEMENTED" in text


def _short(e: BaseException, n: int = 300) -> str:
    first = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {first[:n]}"


def _xyxy_for_match(dets: list[torch.Tensor], task: str) -> list[torch.Tensor]:
    if task != "obb":
        return dets
    from ultralytics.utils import ops

    out = []
    for d in dets:
        d = d.clone()
        d[:, :4] = ops.xywh2xyxy(d[:, :4])  # axis-aligned envelope: a loose comparison, as intended
        out.append(d)
    return out


def empty_cell(**ids) -> dict:
    cell = {k: None for k in SCHEMA_COLUMNS}
    cell.update(ids)
    cell.update({"max_abs_err": None, "max_rel_err": None, "tolerance": None})
    return cell


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

    model: a ``ModelSpec``, a dict of its fields, a checkpoint path (.pt), an ``nn.Module`` (an Ultralytics model),
        or None (yolov12n). backends: attention backend knob per cell (None = as the model defines it).
    threads: CPU threads for PyTorch and ONNX Runtime (default: physical cores); set for the whole run and recorded.
    onnx_file: time this ONNX file in the ``onnxruntime`` cells instead of exporting the model (it is still gated
        against the model's eager fp32 outputs, so it must be an export of the same weights).
    """
    devices, precisions, runtimes = _seq(devices, ["cpu"]), _seq(precisions, ["fp32"]), _seq(runtimes, ["eager"])
    batches, scopes = [int(b) for b in _seq(batches, [1])], _seq(scopes, ["forward"])
    imgszs = [imgszs] if isinstance(imgszs, int) else list(imgszs)
    backends = [backends] if backends is None or isinstance(backends, str) else list(backends)
    for s in scopes:
        if s not in SCOPES:
            raise ValueError(f"scope {s!r} is not known; allowed: {list(SCOPES)}")
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

    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    env = capture_env(threads)
    tmp = tempfile.TemporaryDirectory(prefix="yolov12-latency-") if workdir is None else None
    wd = Path(workdir) if workdir is not None else Path(tmp.name)
    wd.mkdir(parents=True, exist_ok=True)
    options = {"compile_mode": compile_mode, "onnx_file": str(onnx_file) if onnx_file else None, "opset": opset,
               "simplify": simplify}
    cells: list[dict] = []
    references: dict[tuple, tuple] = {}
    try:
        for dev_str in devices:
            device = torch.device(dev_str)
            dev_label = "cpu" if device.type == "cpu" else f"cuda:{device.index or 0}"
            dev_name = device_name(env, dev_label)
            for imgsz in map(_imgsz, imgszs):
                for batch in batches:
                    images = sample_images(batch)
                    for backend in backends:
                        for scope in scopes:
                            for precision in precisions:
                                for runtime in runtimes:
                                    cell = empty_cell(
                                        model=name, device=dev_label, device_name=dev_name, precision=precision,
                                        runtime=runtime, attn_backend=backend or knob_backend, batch=batch,
                                        imgsz=imgsz[0] if imgsz[0] == imgsz[1] else f"{imgsz[0]}x{imgsz[1]}",
                                        scope=scope, threads=threads)
                                    if knob_backend == "none" and backend not in (None, "auto"):
                                        cell.update(status="unavailable",
                                                    reason="the model has no AreaAttention modules to set a backend on")
                                    else:
                                        _run_cell(cell, base, task, nc, stride, device, precision, runtime, batch,
                                                  imgsz, backend, scope, images, threads, wd, key, options, plan,
                                                  tolerances, tf32, conf, iou, max_det, det_min_match, references)
                                    cells.append(cell)
                                    log(_line(cell))
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
              "std": "sample (ddof=1)", "percentiles": "linear interpolation",
              "throughput": "batch x iterations / timed duration"}
    model_info = {**(spec.as_dict() if spec is not None else {"name": name}), "task": task, "nc": nc,
                  "params_fused": sum(p.numel() for p in base.parameters()), "attn_backend_knob": knob_backend,
                  "weights_key": key}
    # strict JSON for every consumer: a non-finite error (NaN outputs) becomes None, the reason keeps the value
    return finite({"env": env, "method": method, "model": model_info, "cells": cells})


def _reference(base, task, nc, device, batch, imgsz, backend, images, stride, conf, iou, max_det, references):
    """fp32 eager outputs (and detections) on the cell's device for this input; cached per input/backend."""
    ref_backend = "sdpa" if backend == "flash_attn" else backend
    key = (str(device), batch, imgsz, ref_backend)
    if key not in references:
        if resolved_kernel(base, device, ref_backend) == "flash_attn":
            ref_backend = "sdpa"  # flash-attn computes in half precision: not an fp32 reference
        m = copy.deepcopy(base).to(device).eval()
        set_attention_backend(m, ref_backend)
        x = Preprocess(imgsz, device, torch.float32, stride)(images)
        with torch.inference_mode(), _precision_context(device, False):
            out = tuple(o.clone() for o in primary_outputs(m(x)))
        post = Postprocess(task, nc, imgsz, images[0].shape[:2], conf, iou, max_det)
        references[key] = (x, out, post(out))
        del m
    return references[key]


def _run_cell(cell, base, task, nc, stride, device, precision, runtime, batch, imgsz, backend, scope, images, threads,
              wd, key, options, plan, tolerances, tf32, conf, iou, max_det, det_min_match, references) -> None:
    reason = check_static(device, precision, runtime, backend)
    if reason:
        cell.update(status="unavailable", reason=reason)
        return
    dtype = PRECISIONS[precision]
    cell["attn_kernel"] = resolved_kernel(base, device, backend)
    prepared: Prepared | None = None
    with torch.inference_mode(), _precision_context(device, tf32):
        try:
            x_ref, ref_out, ref_dets = _reference(base, task, nc, device, batch, imgsz, backend, images, stride, conf,
                                                  iou, max_det, references)
            ctx = CellContext(device=device, precision=precision, batch=batch, imgsz=imgsz, threads=threads,
                              workdir=wd, model_key=key, backend=backend, options=options)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            t0 = time.perf_counter()
            prepared = BUILDERS[runtime](base, ctx)
            cell["prepare_s"] = round(time.perf_counter() - t0, 2)
            cell["runtime_info"] = prepared.info
            x = x_ref.to(dtype)
            out = prepared.fn(x)
            if prepared.sync:
                prepared.sync()
            verdict = G.check(out, ref_out, precision, tolerances)
            cell.update(max_abs_err=verdict["max_abs_err"], max_rel_err=verdict["max_rel_err"],
                        tolerance=verdict["tolerance"])
            pre = Preprocess(imgsz, device, dtype, stride)
            post = Postprocess(task, nc, imgsz, images[0].shape[:2], conf, iou, max_det)
            if not verdict["passed"]:
                cell.update(status="failed", reason=f"correctness gate: max relative error {verdict['max_rel_err']:.3g}"
                                                    f" > tolerance {verdict['tolerance']:g} for {precision} "
                                                    f"(max abs error {verdict['max_abs_err']:.3g}); not timed")
                return
            if scope == "end2end" and task != "classify":
                dets = post(prepared.fn(pre(images)))
                match = G.detection_match(_xyxy_for_match(dets, task), _xyxy_for_match(ref_dets, task))
                cell.update(det_match=match, n_det=int(sum(len(d) for d in dets)),
                            n_det_ref=int(sum(len(d) for d in ref_dets)))
                if match < det_min_match:
                    cell.update(status="failed", reason=f"correctness gate: detections match {match:.2f} < "
                                                        f"{det_min_match} of the fp32 reference's; not timed")
                    return
            if scope == "forward":
                fn: Callable[[], object] = lambda: prepared.fn(x)  # noqa: E731
                timer = prepared.timer
            else:
                fn = lambda: post(prepared.fn(pre(images)))  # noqa: E731
                timer = "perf_counter"
            run = run_timed(fn, plan, sync=prepared.sync, timer=timer, device=device)
        except Unavailable as e:
            cell.update(status="unavailable", reason=str(e))
            return
        except Exception as e:  # noqa: BLE001  (a broken cell is reported, the run goes on)
            if _is_unsupported(e):
                cell.update(status="unavailable", reason=f"{precision} on {device.type} with {runtime}: {_short(e)}")
            else:
                cell.update(status="failed", reason=f"error: {_short(e)}",
                            traceback=traceback.format_exc(limit=6))
            return
        finally:
            if prepared is not None and prepared.close is not None:
                with contextlib.suppress(Exception):
                    prepared.close()
    cell.update(summarize(run["times_ms"], batch))
    cell.update(status="ok", reason="", timer=run["timer"], warmup_iters_done=run["warmup_iters_done"],
                warmup_s_done=round(run["warmup_s_done"], 3), timed_s=round(run["timed_s"], 3), capped=run["capped"])
    if device.type == "cuda":
        cell["peak_mem_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def _line(cell: dict) -> str:
    head = (f"{cell['model']} {cell['device']} {cell['precision']} {cell['runtime']} b{cell['batch']} "
            f"{cell['imgsz']} attn={cell['attn_backend']} {cell['scope']}: {cell['status']}")
    if cell["status"] == "ok":
        return f"{head}  median {cell['median_ms']:.2f} ms  p90 {cell['p90_ms']:.2f}  cv {cell['cv']:.3f}  " \
               f"n={cell['iters']}  max_rel_err {cell['max_rel_err']:.2g}"
    return f"{head}  ({cell['reason']})"


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
