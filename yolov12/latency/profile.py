"""Complexity profile: params, paper-convention GFLOPs, true FLOPs, the attention's share of FLOPs and latency, peak
memory, at any image size.

- ``gflops``: paper convention (``yolov12.complexity.summary``: 2 x conv/linear MACs of the BN-fused model).
- ``gflops_true``: ``torch.utils.flop_counter.FlopCounterMode`` on the model as it runs: convolutions, linear layers
  and matrix products, the attention's QK^T and AV included (SDPA kernels and the naive backend's matmuls are both
  counted; bias adds, norms, softmax and activations are not). With the paper's counts it gives
  ``gflops_true - gflops = attention matmuls`` (``gflops_attn_matmul``, also computed analytically as
  4 * B * N * (N / area) * C per attention call, N = H * W tokens, C = heads * head_dim).
- ``attn_flops_share``: FLOPs inside the attention modules (projections, matmuls, position perceiver) / true FLOPs.
- ``attn_latency_share``: time inside the attention modules / forward time, measured with forward pre/post hooks on
  every attention module (perf_counter; on CUDA each hook synchronises the device, so the hooked forward is slower
  than the plain one, ``latency_ms``, and the share is taken inside the hooked runs).
- ``peak_mem_mb``: ``torch.cuda.max_memory_allocated`` during one forward (weights included); CPU: not measured.

All FLOP figures are per image (a batch's count divided by the batch size).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..complexity import count_params, summary


def attention_types() -> tuple[type, ...]:
    from ultralytics.nn.modules.block import AAttn

    from ..nn.attention import AreaAttention

    return (AreaAttention, AAttn)


def attention_matmul_flops(module: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of QK^T and AV of one attention call on a (B, C, H, W) input: 2 matmuls x 2 x B*l*heads*n*n*hd."""
    b, _, h, w = x.shape
    n_tokens = h * w
    area = int(getattr(module, "area", 1) or 1)
    heads, hd = int(module.num_heads), int(module.head_dim)
    return 4 * b * n_tokens * (n_tokens // area) * heads * hd


def _imgsz(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _named_attention(model: nn.Module) -> list[tuple[str, nn.Module]]:
    types = attention_types()
    return [(n, m) for n, m in model.named_modules() if isinstance(m, types)]


def count_flops(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """True FLOPs of one forward on ``x`` (whole batch), split into attention modules and the rest."""
    from torch.utils.flop_counter import FlopCounterMode

    mods = _named_attention(model)
    per_module: dict[str, dict] = {n: {"flops": 0, "matmul_flops": 0, "calls": 0} for n, _ in mods}
    counter = FlopCounterMode(display=False)
    starts: dict[str, int] = {}
    handles = []
    for name, m in mods:
        def pre(mod, args, name=name):
            starts[name] = counter.get_total_flops()

        def post(mod, args, out, name=name):
            rec = per_module[name]
            rec["flops"] += counter.get_total_flops() - starts.pop(name)
            rec["matmul_flops"] += attention_matmul_flops(mod, args[0])
            rec["calls"] += 1
            rec["input_shape"] = list(args[0].shape)

        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    try:
        with torch.no_grad(), counter:
            model(x)
    finally:
        for h in handles:
            h.remove()
    return {"total": counter.get_total_flops(), "attn": sum(r["flops"] for r in per_module.values()),
            "attn_matmul": sum(r["matmul_flops"] for r in per_module.values()), "modules": per_module}


def time_attention(model: nn.Module, x: torch.Tensor, warmup_iters: int = 3, min_iters: int = 10,
                   min_s: float = 1.0) -> dict[str, Any]:
    """Per-forward time inside attention modules (hooks) and of the whole hooked forward; medians over runs."""
    import numpy as np

    mods = _named_attention(model)
    cuda = x.is_cuda

    def sync():
        if cuda:
            torch.cuda.synchronize(x.device)

    acc: dict[str, float] = {n: 0.0 for n, _ in mods}
    starts: dict[str, float] = {}
    handles = []
    for name, m in mods:
        def pre(mod, args, name=name):
            sync()
            starts[name] = time.perf_counter()

        def post(mod, args, out, name=name):
            sync()
            acc[name] += time.perf_counter() - starts.pop(name)

        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    totals, attn, per_mod = [], [], {n: [] for n in acc}
    try:
        with torch.inference_mode():
            for _ in range(warmup_iters):
                model(x)
            t_start = time.perf_counter()
            while len(totals) < min_iters or time.perf_counter() - t_start < min_s:
                for n in acc:
                    acc[n] = 0.0
                sync()
                t0 = time.perf_counter()
                model(x)
                sync()
                totals.append(time.perf_counter() - t0)
                attn.append(sum(acc.values()))
                for n, v in acc.items():
                    per_mod[n].append(v)
    finally:
        for h in handles:
            h.remove()
    totals_a, attn_a = np.asarray(totals), np.asarray(attn)
    return {"hooked_ms": float(np.median(totals_a) * 1e3), "attn_ms": float(np.median(attn_a) * 1e3),
            "share": float(np.median(attn_a / totals_a)), "iters": len(totals),
            "modules_ms": {n: float(np.median(v) * 1e3) for n, v in per_mod.items()}}


def profile(model=None, imgsz: int | tuple[int, int] = 640, batch: int = 1, device: str = "cpu",
            precision: str = "fp32", backend: str | None = None, threads: int | None = None, warmup_iters: int = 3,
            min_iters: int = 10, min_s: float = 1.0, fuse: bool = True, timing: bool = True) -> dict[str, Any]:
    """Complexity profile of ``model`` (a ``yolov12.latency.ModelSpec``, a dict of its fields, a checkpoint path,
    an ``nn.Module`` or None = yolov12n) at ``imgsz`` on ``device`` (see the module docstring for every number)."""
    from .spec import as_spec
    from .env import default_threads, load_average
    from .runtimes import PRECISIONS, check_static, resolved_kernel, set_attention_backend
    from .stats import TimingPlan, run_timed

    dev = torch.device(device)
    reason = check_static(dev, precision, "eager", backend)
    if reason:
        raise RuntimeError(f"cannot profile on {device} in {precision}: {reason}")
    spec = as_spec(model)
    base = spec.build() if spec is not None else copy.deepcopy(model).float().cpu().eval()
    name = spec.name if spec is not None else type(base).__name__
    hw = _imgsz(imgsz)
    threads = int(threads or default_threads())
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        s = summary(base, hw)
        m = copy.deepcopy(base)
        if fuse and hasattr(m, "fuse"):
            m = m.fuse(verbose=False)
        set_attention_backend(m, backend)
        kernel = resolved_kernel(m, dev)
        # FLOPs: fp32 on the device; flash-attn (a custom op the counter does not see) is counted as SDPA
        fm = copy.deepcopy(m).to(dev).eval()
        if kernel == "flash_attn":
            set_attention_backend(fm, "sdpa")
        x32 = torch.rand(batch, 3, *hw, generator=torch.Generator().manual_seed(0)).to(dev)
        flops = count_flops(fm, x32)
        del fm
        m = m.to(device=dev, dtype=PRECISIONS[precision]).eval()
        x = x32.to(PRECISIONS[precision])
        out: dict[str, Any] = {
            "model": name, "imgsz": list(hw) if hw[0] != hw[1] else hw[0], "batch": batch, "device": str(dev),
            "precision": precision, "attn_backend": backend or _knob(m), "attn_kernel": kernel, "threads": threads,
            "params": s["params"], "params_fused": s["params_fused"], "params_profiled": count_params(m),
            "gflops": s["gflops"],
            "gflops_true": flops["total"] / batch / 1e9,
            "gflops_attn": flops["attn"] / batch / 1e9,
            "gflops_attn_matmul": flops["attn_matmul"] / batch / 1e9,
        }
        out["gflops_unexplained"] = out["gflops_true"] - out["gflops"] - out["gflops_attn_matmul"]
        out["attn_flops_share"] = out["gflops_attn"] / out["gflops_true"] if out["gflops_true"] else None
        out["attn_matmul_share"] = out["gflops_attn_matmul"] / out["gflops_true"] if out["gflops_true"] else None
        out["n_attention_modules"] = len(flops["modules"])
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
            before = torch.cuda.memory_allocated(dev)
            with torch.inference_mode():
                m(x)
            torch.cuda.synchronize(dev)
            peak = torch.cuda.max_memory_allocated(dev)
            out.update(peak_mem_mb=peak / 2**20, activation_peak_mb=(peak - before) / 2**20, peak_mem_reason=None)
        else:
            out.update(peak_mem_mb=None, activation_peak_mb=None,
                       peak_mem_reason="peak memory is measured on CUDA only (torch.cuda.max_memory_allocated)")
        modules_ms: dict[str, float] = {}
        if timing:
            plan = TimingPlan(warmup_iters, 0.0, min_iters, min_s)
            sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else None
            with torch.inference_mode():
                run = run_timed(lambda: m(x), plan, sync=sync)
            import numpy as np

            out["latency_ms"] = float(np.median(run["times_ms"]))
            t = time_attention(m, x, warmup_iters, min_iters, min_s)
            out.update(latency_hooked_ms=t["hooked_ms"], attn_latency_ms=t["attn_ms"], attn_latency_share=t["share"],
                       timing_iters=t["iters"])
            modules_ms = t["modules_ms"]
        out["modules"] = [{"name": n, **{k: v for k, v in r.items()}, "gflops": r["flops"] / batch / 1e9,
                           "gflops_matmul": r["matmul_flops"] / batch / 1e9, "ms": modules_ms.get(n)}
                          for n, r in flops["modules"].items()]
        for rec in out["modules"]:
            rec.pop("flops"), rec.pop("matmul_flops")
        out["loadavg"] = load_average()
        return out
    finally:
        torch.set_num_threads(saved_threads)


def _knob(model: nn.Module) -> str:
    from .runtimes import model_backend

    return model_backend(model)


def write_profiles(profiles: list[dict], path: str | Path, threads: int | None = None) -> Path:
    from ..io import write_json
    from .env import capture_env

    return write_json(path, {"env": capture_env(threads), "profiles": profiles}, indent=1)
