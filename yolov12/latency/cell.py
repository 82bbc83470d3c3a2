"""One cell of the latency matrix: availability, build, correctness gate, kernel detection, timing, conditions.

A cell is (1) checked for availability, (2) built, (3) run once on the reference input and compared with the fp32
eager reference (correctness gate; a failing cell is reported ``failed`` with its error and not timed), (4) profiled
once to find the attention kernel that actually ran, (5) timed between two snapshots of the machine's conditions.
An unavailable or failing cell never stops the run. The fields a cell gets are listed in docs/latency.md.
"""

from __future__ import annotations

import contextlib
import copy
import time
import traceback
from collections.abc import Callable

import torch

from ..registry import TASK_TABLE
from . import gate as G
from .conditions import conditions_record, snapshot, verdict
from .kernels import backend_context, detect_kernel
from .names import SCHEMA_COLUMNS
from .pipeline import Postprocess, Preprocess
from .runtimes import PRECISIONS, CellContext, Prepared, Unavailable, check_static, primary_outputs, resolved_kernel, \
    set_attention_backend
from .stats import encode_samples, run_timed, stored_precision, summarize


def empty_cell(**ids) -> dict:
    """Every field a cell can have, None / empty until measured (so every cell has the same keys)."""
    cell = {k: None for k in SCHEMA_COLUMNS}
    cell.update({"max_abs_err": None, "max_rel_err": None, "tolerance": None, "backend": None, "kernel": None,
                 "kernel_ops": [], "kernel_note": "", "attn_kernel": None, "imgsz_hw": None, "device_uuid": None,
                 "median_ci_ms": None, "ci_level": None, "samples_b64": None, "samples_n": 0, "contended": None,
                 "contention": "", "conditions": None})
    cell.update(ids)
    return cell


def precision_context(device: torch.device, tf32: bool):
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
    if not TASK_TABLE[task].rotated:
        return dets
    from ultralytics.utils import ops

    out = []
    for d in dets:
        d = d.clone()
        d[:, :4] = ops.xywh2xyxy(d[:, :4])  # axis-aligned envelope: a loose comparison, as intended
        out.append(d)
    return out


def attention_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """Every attention module whose softmax the kernel detection should look inside: ours and Ultralytics'."""
    from ultralytics.nn.modules.block import AAttn, Attention

    from ..nn.attention import AreaAttention

    return [m for m in model.modules() if isinstance(m, (AreaAttention, AAttn, Attention))]


def reference(m: "Model", device, batch, imgsz, backend, images, references):
    """fp32 eager outputs (and detections) on the cell's device for this input; cached per input/backend."""
    ref_backend = "sdpa" if backend == "flash_attn" else backend
    key = (str(device), batch, imgsz, ref_backend)
    if key not in references:
        if resolved_kernel(m.base, device, ref_backend) == "flash_attn":
            ref_backend = "sdpa"  # flash-attn computes in half precision: not an fp32 reference
        net = copy.deepcopy(m.base).to(device).eval()
        set_attention_backend(net, ref_backend)
        x = Preprocess(imgsz, device, torch.float32, m.stride)(images)
        with torch.inference_mode(), precision_context(device, False), backend_context(ref_backend):
            out = tuple(o.clone() for o in primary_outputs(net(x)))
        post = Postprocess(m.task, m.nc, imgsz, images[0].shape[:2], m.conf, m.iou, m.max_det)
        references[key] = (x, out, post(out))
        del net
    return references[key]


class Model:
    """The fused fp32 model of a run and what every cell needs to know about it."""

    def __init__(self, base, task, nc, stride, key, conf, iou, max_det, det_min_match, tolerances, options):
        self.base, self.task, self.nc, self.stride, self.key = base, task, nc, stride, key
        self.conf, self.iou, self.max_det, self.det_min_match = conf, iou, max_det, det_min_match
        self.tolerances, self.options = tolerances, options
        self.has_attention = bool(attention_layers(base))


def _kernel(cell: dict, prepared: Prepared, x: torch.Tensor, device: torch.device, has_attention: bool) -> None:
    if not has_attention:
        cell.update(kernel=None, kernel_ops=[], kernel_note="the model has no attention modules")
        return
    if prepared.opaque and prepared.module is not None:  # e.g. a CUDA graph: its eager module runs the same kernels
        probe, layers = (lambda: prepared.module(x)), attention_layers(prepared.module)
        note = "profiled the eager module the runtime replays"
    else:
        probe = lambda: prepared.fn(x)  # noqa: E731
        layers = attention_layers(prepared.module) if prepared.module is not None else []
        note = ""
    try:
        found = detect_kernel(probe, device, layers, prepared.kernel_note)
    except Exception as e:  # noqa: BLE001  (a profiler that cannot run here must not lose the timing)
        found = {"kernel": None, "kernel_ops": [], "kernel_note": f"torch.profiler failed: {_short(e)}"}
    if found["kernel"] and note:
        found["kernel_note"] = note
    cell.update(found)


def run_cell(cell: dict, m: Model, device: torch.device, precision: str, runtime: str, batch: int,
             imgsz: tuple[int, int], backend: str | None, scope: str, images, threads: int, wd, plan, tf32: bool,
             references: dict, artifact: dict | None = None) -> None:
    """Fill ``cell`` (from ``empty_cell``) for one combination; never raises for a cell that cannot run.

    artifact: the exported file a file-based runtime times instead of exporting the model itself
    (``{"file", ...}``; ``file`` None: there is no such file, the cell is unavailable with the ``reason``)."""
    reason = check_static(device, precision, runtime, backend)
    if reason:
        cell.update(status="unavailable", reason=reason)
        return
    if artifact is not None and not artifact.get("file"):
        cell.update(status="unavailable", reason=f"no exported file to time: {artifact.get('reason')}")
        return
    options = m.options if artifact is None else {**m.options, "artifact_file": artifact["file"]}
    from .. import registry

    dtype = PRECISIONS[precision]
    cell["attn_kernel"] = resolved_kernel(m.base, device, backend, dtype)
    prepared: Prepared | None = None
    with torch.inference_mode(), precision_context(device, tf32), backend_context(backend):
        try:
            x_ref, ref_out, ref_dets = reference(m, device, batch, imgsz, backend, images, references)
            ctx = CellContext(device=device, precision=precision, batch=batch, imgsz=imgsz, threads=threads,
                              workdir=wd, model_key=m.key, backend=backend, options=options)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            t0 = time.perf_counter()
            prepared = registry.runtime_builder(runtime)(m.base, ctx)
            cell["prepare_s"] = round(time.perf_counter() - t0, 2)
            cell["runtime_info"] = prepared.info
            x = x_ref.to(dtype)
            out = prepared.fn(x)
            if prepared.sync:
                prepared.sync()
            verdict_ = G.check(out, ref_out, precision, m.tolerances)
            cell.update(max_abs_err=verdict_["max_abs_err"], max_rel_err=verdict_["max_rel_err"],
                        tolerance=verdict_["tolerance"])
            pre = Preprocess(imgsz, device, dtype, m.stride)
            post = Postprocess(m.task, m.nc, imgsz, images[0].shape[:2], m.conf, m.iou, m.max_det)
            if not verdict_["passed"]:
                cell.update(status="failed", reason=f"correctness gate: max relative error "
                                                    f"{verdict_['max_rel_err']:.3g} > tolerance "
                                                    f"{verdict_['tolerance']:g} for {precision} (max abs error "
                                                    f"{verdict_['max_abs_err']:.3g}); not timed")
                return
            if scope == "end2end" and not TASK_TABLE[m.task].classification:
                dets = post(prepared.fn(pre(images)))
                match = G.detection_match(_xyxy_for_match(dets, m.task), _xyxy_for_match(ref_dets, m.task))
                cell.update(det_match=match, n_det=int(sum(len(d) for d in dets)),
                            n_det_ref=int(sum(len(d) for d in ref_dets)))
                if match < m.det_min_match:
                    cell.update(status="failed", reason=f"correctness gate: detections match {match:.2f} < "
                                                        f"{m.det_min_match} of the fp32 reference's; not timed")
                    return
            _kernel(cell, prepared, x, device, m.has_attention)
            if scope == "forward":
                fn: Callable[[], object] = lambda: prepared.fn(x)  # noqa: E731
                timer = prepared.timer
            else:
                fn = lambda: post(prepared.fn(pre(images)))  # noqa: E731
                timer = "perf_counter"
            start = snapshot(device)
            run = run_timed(fn, plan, sync=prepared.sync, timer=timer, device=device)
            end = snapshot(device)
        except Unavailable as e:
            cell.update(status="unavailable", reason=str(e))
            return
        except Exception as e:  # noqa: BLE001  (a broken cell is reported, the run goes on)
            if type(e).__name__ == "BackendUnavailable":  # the model's own word: this kernel cannot run here
                cell.update(status="unavailable", reason=getattr(e, "reason", None) or str(e))
            elif _is_unsupported(e):
                cell.update(status="unavailable", reason=f"{precision} on {device.type} with {runtime}: {_short(e)}")
            else:
                cell.update(status="failed", reason=f"error: {_short(e)}", traceback=traceback.format_exc(limit=6))
            return
        finally:
            if prepared is not None and prepared.close is not None:
                with contextlib.suppress(Exception):
                    prepared.close()
    n_expected = len(run["times_ms"])
    times = stored_precision(run["times_ms"])  # statistics from exactly the samples kept: recomputable
    cell.update(summarize(times, batch))
    cell.update(encode_samples(times))
    if cell["iters"] != n_expected or cell["samples_n"] != n_expected:  # count what was measured, refuse a mismatch
        raise AssertionError(f"{cell['samples_n']} samples kept of {n_expected} timed iterations")
    rec = conditions_record(start, end)
    contended, why = verdict(rec)
    cell.update(status="ok", reason="", timer=run["timer"], warmup_iters_done=run["warmup_iters_done"],
                warmup_s_done=round(run["warmup_s_done"], 3), timed_s=round(run["timed_s"], 3), capped=run["capped"],
                contended=contended, contention=why, conditions={"start": start, "end": end, **rec})
    if device.type == "cuda":
        cell["peak_mem_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def line(cell: dict) -> str:
    """One progress line per cell."""
    head = (f"{cell['model']} {cell['device']} {cell['precision']} {cell['runtime']} b{cell['batch']} "
            f"{cell['imgsz']} attn={cell['attn_backend']} {cell['scope']}: {cell['status']}")
    if cell["status"] == "ok":
        lo, hi = cell["median_ci_ms"]
        return (f"{head}  median {cell['median_ms']:.2f} ms [{lo:.2f}, {hi:.2f}]  p90 {cell['p90_ms']:.2f}  "
                f"cv {cell['cv']:.3f}  n={cell['iters']}  kernel {cell['kernel']}  max_rel_err "
                f"{cell['max_rel_err']:.2g}" + (f"  CONTENDED: {cell['contention']}" if cell["contended"] else ""))
    return f"{head}  ({cell['reason']})"
