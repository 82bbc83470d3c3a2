"""``measure``: the latency matrix (model x device x precision x runtime x batch x imgsz x attention backend x scope).

Each cell (``yolov12.latency.cell``) is checked for availability, built, gated against the fp32 eager reference,
profiled once for the attention kernel that actually ran, and timed between two snapshots of the machine's
conditions: warm-up until both ``warmup_iters`` and ``warmup_s`` are reached, then single-stream iterations until
both ``min_iters`` and ``min_s`` are reached. Every per-iteration time is kept in the cell (compressed). An
unavailable or failing cell never stops the run.

``measure`` times every cell in THIS process; ``yolov12.latency.session`` times a list of cells in several fresh
processes (``Bench`` below is what each of them runs), the unit the between-process interval needs.
"""

from __future__ import annotations

import copy
import itertools
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..settings import LATENCY
from . import gate as G
from .cell import Model, empty_cell, line, run_cell
from .env import capture_env, default_threads, device_name, load_average, result_filename
from .hardware import device_uuid
from .kernels import check_backend
from .names import SCHEMA_COLUMNS, SCOPES, STATUS  # noqa: F401  (re-exported)
from .pipeline import sample_images
from .runtimes import model_backend, weights_key
from .spec import ModelSpec, as_spec  # noqa: F401  (re-exported)
from .stats import SAMPLES_CODEC, TimingPlan, finite  # noqa: F401  (finite re-exported)


def _imgsz(v) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    h, w = v
    return (int(h), int(w))


def _seq(v, default) -> list:
    if v is None:
        return list(default)
    return [v] if isinstance(v, (str, int)) else list(v)


@dataclass(frozen=True)
class Setting:
    """The settings of one cell (everything but the model)."""

    device: str
    imgsz: tuple[int, int]
    batch: int
    backend: str | None
    scope: str
    precision: str
    runtime: str
    threads: int
    artifact: dict | None = None  # the exported file this cell times (session cells; yolov12.latency.session)


@dataclass(frozen=True)
class Matrix:
    """The settings ``measure`` crosses; ``product()`` lists the cells in the order they are timed (device, imgsz,
    batch, backend, scope, precision, runtime: the slow-to-change settings outermost, so a built input is reused)."""

    devices: tuple[str, ...] = ("cpu",)
    imgszs: tuple[tuple[int, int], ...] = ((640, 640),)
    batches: tuple[int, ...] = (1,)
    backends: tuple[str | None, ...] = (None,)
    scopes: tuple[str, ...] = ("forward",)
    precisions: tuple[str, ...] = ("fp32",)
    runtimes: tuple[str, ...] = ("eager",)
    threads: int = 1

    @classmethod
    def of(cls, devices, precisions, runtimes, batches, imgszs, backends, scopes, threads) -> "Matrix":
        """Normalised (a scalar is a list of one) and checked: an unknown scope or backend is refused."""
        from ..errors import UserError

        scopes = tuple(_seq(scopes, ["forward"]))
        for s in scopes:
            if s not in SCOPES:
                raise UserError(f"scope {s!r} is not known", key="scopes", allowed=SCOPES)
        backends = (backends,) if backends is None or isinstance(backends, str) else tuple(backends)
        for b in backends:
            check_backend(b)
        return cls(tuple(_seq(devices, ["cpu"])), tuple(map(_imgsz, [imgszs] if isinstance(imgszs, int) else imgszs)),
                   tuple(int(b) for b in _seq(batches, [1])), backends, scopes, tuple(_seq(precisions, ["fp32"])),
                   tuple(_seq(runtimes, ["eager"])), int(threads or default_threads()))

    def product(self) -> list[Setting]:
        return [Setting(d, i, b, k, s, p, r, self.threads) for d, i, b, k, s, p, r in itertools.product(
            self.devices, self.imgszs, self.batches, self.backends, self.scopes, self.precisions, self.runtimes)]


class Bench:
    """One model made ready for timing in this process: fused fp32 on the CPU, its fp32 references cached per input.

    options: the export / compile options of the runtimes (compile_mode, onnx_file, opset, simplify)."""

    def __init__(self, model, *, fuse: bool = True, tolerances: dict[str, float] | None = None, conf: float = 0.25,
                 iou: float = 0.7, max_det: int = 300, det_min_match: float = G.DET_MIN_MATCH,
                 options: dict | None = None):
        spec = as_spec(model)
        base = spec.build() if spec is not None else model
        if spec is not None:
            task = spec.task
        else:
            from ultralytics.nn.tasks import guess_model_task

            task = getattr(base, "task", None) or guess_model_task(base)
        self.name = spec.name if spec is not None else type(base).__name__
        base = copy.deepcopy(base).float().cpu().eval()
        if fuse and hasattr(base, "fuse"):
            base = base.fuse(verbose=False)
        nc = int(getattr(base, "nc", 0) or len(getattr(base, "names", {}) or {}) or 80)
        stride = int(max(getattr(base, "stride", torch.tensor([32])).max().item(), 32))
        key = weights_key(base)
        self.knob_backend = model_backend(base)
        opts = {"compile_mode": None, "onnx_file": None, "opset": None, "simplify": True, **(options or {})}
        self.m = Model(base, task, nc, stride, key, conf, iou, max_det, det_min_match, tolerances, opts)
        self.references: dict[tuple, tuple] = {}
        self._images: dict[int, object] = {}
        self.info = {**(spec.as_dict() if spec is not None else {"name": self.name}), "task": task, "nc": nc,
                     "params_fused": sum(p.numel() for p in base.parameters()), "attn_backend_knob": self.knob_backend,
                     "weights_key": key}

    def cell(self, s: Setting, env: dict, workdir: Path, plan: TimingPlan, tf32: bool) -> dict:
        """One timed cell (never raises for a cell that cannot run: it is unavailable or failed)."""
        device = torch.device(s.device)
        dev_label = "cpu" if device.type == "cpu" else f"cuda:{device.index or 0}"
        h, w = s.imgsz
        setting = s.backend or self.knob_backend
        cell = empty_cell(model=self.name, device=dev_label, device_name=device_name(env, dev_label),
                          device_uuid=device_uuid(device) if device.type == "cuda" else None, threads=s.threads,
                          precision=s.precision, runtime=s.runtime, attn_backend=setting, backend=setting,
                          batch=s.batch, imgsz=h if h == w else f"{h}x{w}", imgsz_hw=[h, w], scope=s.scope)
        if self.knob_backend == "none" and s.backend not in (None, "auto"):
            cell.update(status="unavailable", reason="the model has no AreaAttention modules to set a backend on")
            return cell
        if s.batch not in self._images:
            self._images[s.batch] = sample_images(s.batch)
        saved = torch.get_num_threads()
        torch.set_num_threads(s.threads)
        try:
            run_cell(cell, self.m, device, s.precision, s.runtime, s.batch, s.imgsz, s.backend, s.scope,
                     self._images[s.batch], s.threads, workdir, plan, tf32, self.references, s.artifact)
        finally:
            torch.set_num_threads(saved)
        return cell


def method_record(plan: TimingPlan, threads, fuse: bool, tf32: bool, tolerances, det_min_match: float, conf: float,
                  iou: float, max_det: int) -> dict:
    """How the cells were measured (the result's ``method``)."""
    return {**plan.as_dict(), "threads": threads, "fused": fuse, "tf32": tf32, "tolerances":
            {**G.TOLERANCES, **(tolerances or {})}, "det_iou": G.DET_IOU, "det_min_match": det_min_match,
            "conf": conf, "iou": iou, "max_det": max_det, "input": "Ultralytics assets/bus.jpg, letterboxed",
            "timers": {"cuda_events": "torch runtimes on CUDA, forward scope",
                       "perf_counter": "CPU, ONNX Runtime, TensorRT, end2end (device synchronised)"},
            "std": "sample (ddof=1)", "percentiles": "numpy.percentile (linear interpolation)",
            "throughput": "images/s = batch * 1000 / median_ms",
            "median_ci": "95 % percentile bootstrap of the median, 2000 resamples (yolov12.stats.bootstrap_ci)",
            "samples": SAMPLES_CODEC, "kernel": "torch.profiler over one warm forward (yolov12.latency.kernels)",
            "contention": "yolov12.latency.conditions.judge between snapshots at the start and end of timing"}


def measure(model=None, *, devices: Sequence[str] | str = tuple(LATENCY.devices),
            precisions: Sequence[str] | str = tuple(LATENCY.precisions),
            runtimes: Sequence[str] | str = tuple(LATENCY.runtimes), batches: Sequence[int] | int = (LATENCY.batch,),
            imgszs: Sequence[int] | int = (LATENCY.imgsz,), backends: Sequence[str | None] | str | None = (None,),
            scopes: Sequence[str] | str = ("forward",), threads: int | None = LATENCY.threads,
            warmup_iters: int = LATENCY.warmup_iters, warmup_s: float = LATENCY.warmup_s,
            min_iters: int = LATENCY.min_iters, min_s: float = LATENCY.min_s, max_s: float | None = None,
            tolerances: dict[str, float] | None = None, fuse: bool = True, tf32: bool = False,
            workdir: str | Path | None = None, onnx_file: str | Path | None = None, compile_mode: str | None = None,
            opset: int | None = None, simplify: bool = True, conf: float = 0.25, iou: float = 0.7,
            max_det: int = 300, det_min_match: float = G.DET_MIN_MATCH, verbose: bool = True) -> dict:
    """Time ``model`` over the matrix in this process; returns ``{"env", "method", "model", "cells"}``
    (docs/latency.md). Its intervals are within-run: ``yolov12.latency.session.run_session`` gives between-process
    ones.

    model: a ``ModelSpec``, a dict of its fields, a checkpoint path (.pt), an Ultralytics YAML name (a peer, e.g.
        ``"yolov9t.yaml"``), an ``nn.Module`` (an Ultralytics model), or None (yolov12n).
    backends: attention backend per cell (None = as the model defines it): a value of the ``backend`` knob or
        ``sdpa_noflash`` (``yolov12.latency.kernels.backends()``).
    threads: CPU threads for PyTorch and ONNX Runtime (default: the latency settings', yolov12.settings; None:
        physical cores); set for the whole run and recorded. The timing defaults are the latency settings' too.
    onnx_file: time this ONNX file in the ``onnxruntime`` cells instead of exporting the model (it is still gated
        against the model's eager fp32 outputs, so it must be an export of the same weights).
    """
    matrix = Matrix.of(devices, precisions, runtimes, batches, imgszs, backends, scopes, threads)
    plan = TimingPlan(warmup_iters, warmup_s, min_iters, min_s, max_s)
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if verbose else (lambda msg: None)
    bench = Bench(model, fuse=fuse, tolerances=tolerances, conf=conf, iou=iou, max_det=max_det,
                  det_min_match=det_min_match, options={"compile_mode": compile_mode, "onnx_file":
                                                        str(onnx_file) if onnx_file else None, "opset": opset,
                                                        "simplify": simplify})
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(matrix.threads)
    env = capture_env(matrix.threads)
    tmp = tempfile.TemporaryDirectory(prefix="yolov12-latency-") if workdir is None else None
    wd = Path(workdir) if workdir is not None else Path(tmp.name)
    wd.mkdir(parents=True, exist_ok=True)
    cells: list[dict] = []
    try:
        for setting in matrix.product():
            cells.append(bench.cell(setting, env, wd, plan, tf32))
            log(line(cells[-1]))
    finally:
        torch.set_num_threads(saved_threads)
        if tmp is not None:
            tmp.cleanup()
    env["loadavg_end"] = load_average()
    method = method_record(plan, matrix.threads, fuse, tf32, tolerances, det_min_match, conf, iou, max_det)
    # strict JSON for every consumer: a non-finite error (NaN outputs) becomes None, the reason keeps the value
    return finite({"env": env, "method": method, "model": bench.info, "cells": cells})


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


def iter_ok(cells: Iterable[dict]) -> Iterable[dict]:
    return (c for c in cells if c["status"] == "ok")
