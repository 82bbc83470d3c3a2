"""Benchmarks (not tests) of the latency harness; results to ``tests/benchmarks/results/latency_<what>_<hw>.json``.

    .venv/bin/python tests/benchmarks/latency_benchmarks.py [--sections attn model repeat area] [--device cpu]
                                                            [--threads N] [--rounds 3] [--quick]

- attn:   our AreaAttention vs Ultralytics' AAttn on identical weights and input, for every distinct attention layer
          shape of yolov12n / yolov12s at 640 (CPU fp32; CUDA fp16 when a GPU is present). Ratio = theirs / ours
          (> 1: ours is faster).
- model:  whole yolov12n (ours, backend auto) vs Ultralytics' yolo12n (``DetectionModel("yolo12n.yaml")``) with
          identical weights (ours loads their state dict strictly), eager fp32, 640, batch 1.
- repeat: the same cell (yolov12n, eager fp32, 640) measured 3 times: coefficient of variation of the 3 medians
          (targets: <= 3 % on CPU, <= 1 % on GPU).
- proposal: the change proposed for ``yolov12/nn/attention.py`` (contiguous q, k, v before CPU SDPA), applied by
          wrapping ``attend`` for the duration of the measurement: module level (the four layer shapes) and whole
          yolov12n vs the current code and Ultralytics, on identical weights.
- matrix: the harness itself on yolov12n at 640: cpu and cuda:0 x fp32 / fp16 / bf16 x eager / onnxruntime /
          cudagraphs / tensorrt x forward / end2end, plus torch.compile fp32 (the workflow's small plan: 10 iterations,
          0.5 s); written with ``write_results`` as ``latency_matrix-yolov12n_<hw>_<device>_<precision>.json``.
- area:   area attention on (default, l = 4 at P4) vs off (knob area=1: global) for N / S / X at 640 on the CPU, the
          analogue of paper Table 3 (X with fewer iterations: it takes seconds per image on a small CPU).
- kernels: yolov12n at 640, one cell per attention backend (naive, sdpa_noflash, sdpa, flash_attn), each with the
          kernel that ran, its conditions and the median's interval; ratios between backends with intervals.

Rounds are interleaved (A, B, A, B, ...) and the median of the per-round medians is reported, so a slow phase of a
shared machine hits both sides alike; every file records the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
# paper Table 3 (CPU column, Intel i7-10700K, ms): (area attention off, on); facts transcribed from the paper
PAPER_TABLE3_CPU = {"n": (62.9, 31.4), "s": (130.0, 78.4), "x": (804.2, 512.5)}


def _median(values):
    import numpy as np

    return float(np.median(values))


def attention_configs(scales=("n", "s"), imgsz=640):
    """Distinct (dim, heads, area, H, W) of the attention layers of the given scales at ``imgsz``."""
    import torch

    from yolov12.latency.runtimes import attention_modules
    from yolov12.models import torch_model

    configs = {}
    for scale in scales:
        model = torch_model("yolov12", scale).eval()
        seen = []
        hooks = [m.register_forward_hook(lambda mod, a, o: seen.append((mod, tuple(a[0].shape))))
                 for m in attention_modules(model)]
        with torch.no_grad():
            model(torch.zeros(1, 3, imgsz, imgsz))
        for h in hooks:
            h.remove()
        for mod, shape in seen:
            key = (shape[1], mod.num_heads, mod.area, shape[2], shape[3])
            configs.setdefault(key, []).append(f"yolov12{scale}")
    return [{"dim": k[0], "heads": k[1], "area": k[2], "h": k[3], "w": k[4], "models": sorted(set(v)),
             "layers": len(v)} for k, v in configs.items()]


def bench_attention(device, precision, plan, rounds, threads, imgsz=640):
    import torch
    from ultralytics.nn.modules.block import AAttn

    from yolov12.latency import PRECISIONS, run_timed
    from yolov12.nn.attention import AreaAttention

    dev = torch.device(device)
    dtype = PRECISIONS[precision]
    timer = "cuda_events" if dev.type == "cuda" else "perf_counter"
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else None
    from yolov12.latency.cell import attention_layers
    from yolov12.latency.kernels import detect_kernel, knob_backends
    from yolov12.nn.attention import flash_attn_unavailable

    usable = [b for b in ("naive", "sdpa_noflash", "sdpa", "flash_attn", "auto") if b in knob_backends()
              and (b != "flash_attn" or flash_attn_unavailable(dev, dtype) is None)]
    rows = []
    for cfg in attention_configs(imgsz=imgsz):
        torch.manual_seed(0)
        impls = {}
        for backend in usable:
            impls[f"ours_{backend}"] = AreaAttention(cfg["dim"], cfg["heads"], cfg["area"], backend=backend)
        theirs = AAttn(cfg["dim"], cfg["heads"], cfg["area"])
        theirs.load_state_dict(impls["ours_naive"].state_dict(), strict=True)
        for m in impls.values():
            m.load_state_dict(impls["ours_naive"].state_dict(), strict=True)
        impls["ultralytics_AAttn"] = theirs
        for m in impls.values():
            m.to(dev, dtype).eval()
        x = torch.randn(1, cfg["dim"], cfg["h"], cfg["w"], generator=torch.Generator().manual_seed(1)).to(dev, dtype)
        with torch.inference_mode():
            ref = theirs(x).float()
            err = {k: float((m(x).float() - ref).abs().max()) for k, m in impls.items()}
            kernels = {k: detect_kernel(lambda m=m: m(x), dev, attention_layers(m))["kernel"] for k, m in impls.items()}
            medians = {k: [] for k in impls}
            for _ in range(rounds):
                for k, m in impls.items():
                    run = run_timed(lambda m=m: m(x), plan, sync=sync, timer=timer, device=dev)
                    medians[k].append(_median(run["times_ms"]))
        med = {k: _median(v) for k, v in medians.items()}
        row = {**cfg, "device": device, "precision": precision, "median_ms": med, "round_medians_ms": medians,
               "max_abs_err_vs_ultralytics": err, "kernel": kernels,
               "ratio_theirs_over_ours": {k: med["ultralytics_AAttn"] / v for k, v in med.items()
                                          if k != "ultralytics_AAttn"}}
        rows.append(row)
        print(f"attn {device} {precision} dim {cfg['dim']} heads {cfg['heads']} area {cfg['area']} "
              f"{cfg['h']}x{cfg['w']}: " + "  ".join(f"{k} {v:.3f} ms" for k, v in med.items()), flush=True)
    return rows


@contextlib.contextmanager
def contiguous_sdpa():
    """The proposed change, applied from outside: CPU SDPA gets contiguous q, k, v (the slices of the fused qkv
    projection are strided, which sends PyTorch's CPU SDPA to a slower path)."""
    import yolov12.nn.attention as A

    original = A.attend

    def attend(q, k, v, backend, bias=None):
        if backend == "sdpa" and not q.is_cuda:
            q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        return original(q, k, v, backend, bias)

    A.attend = attend
    try:
        yield
    finally:
        A.attend = original


def bench_proposal(plan, plan_kw, rounds, threads):
    import torch
    from ultralytics.nn.modules.block import AAttn
    from ultralytics.nn.tasks import DetectionModel

    from yolov12.latency import measure, run_timed
    from yolov12.models import torch_model
    from yolov12.nn.attention import AreaAttention

    modules = []
    for cfg in attention_configs():
        torch.manual_seed(0)
        ours = AreaAttention(cfg["dim"], cfg["heads"], cfg["area"], backend="auto").eval()
        theirs = AAttn(cfg["dim"], cfg["heads"], cfg["area"]).eval()
        theirs.load_state_dict(ours.state_dict(), strict=True)
        x = torch.randn(1, cfg["dim"], cfg["h"], cfg["w"], generator=torch.Generator().manual_seed(1))
        med = {"ours_auto": [], "ours_auto_contiguous": [], "ultralytics_AAttn": []}
        with torch.inference_mode():
            ref = theirs(x)
            with contiguous_sdpa():
                err = float((ours(x) - ref).abs().max())
            for _ in range(rounds):
                for k in med:
                    m = theirs if k == "ultralytics_AAttn" else ours
                    with contiguous_sdpa() if k.endswith("contiguous") else contextlib.nullcontext():
                        med[k].append(_median(run_timed(lambda m=m: m(x), plan)["times_ms"]))
        m_ = {k: _median(v) for k, v in med.items()}
        modules.append({**cfg, "median_ms": m_, "round_medians_ms": med, "max_abs_err_contiguous_vs_ultralytics": err,
                        "speedup_contiguous_over_current": m_["ours_auto"] / m_["ours_auto_contiguous"],
                        "ratio_theirs_over_contiguous": m_["ultralytics_AAttn"] / m_["ours_auto_contiguous"]})
        print(f"proposal module dim {cfg['dim']} area {cfg['area']} {cfg['h']}x{cfg['w']}: "
              + "  ".join(f"{k} {v:.3f} ms" for k, v in m_.items()), flush=True)
    theirs = DetectionModel("yolo12n.yaml", verbose=False).eval()
    ours = torch_model("yolov12", "n").eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    cells = {"ours_auto": [], "ours_auto_contiguous": [], "ultralytics": []}
    for _ in range(rounds):
        for k in cells:
            with contiguous_sdpa() if k.endswith("contiguous") else contextlib.nullcontext():
                r = measure(theirs if k == "ultralytics" else ours, threads=threads, verbose=False, **plan_kw)
            cells[k].append(r["cells"][0])
    med = {k: _median([c["median_ms"] for c in v]) for k, v in cells.items()}
    model = {"model": "yolov12n vs yolo12n, eager fp32 cpu 640", "median_ms": med, "cells": cells,
             "speedup_contiguous_over_current": med["ours_auto"] / med["ours_auto_contiguous"],
             "ratio_theirs_over_contiguous": med["ultralytics"] / med["ours_auto_contiguous"],
             "ratio_theirs_over_current": med["ultralytics"] / med["ours_auto"]}
    print(f"proposal model: {med}", flush=True)
    return {"modules": modules, "model": model}


def bench_model(device, precision, plan_kw, rounds, threads):
    from ultralytics.nn.tasks import DetectionModel

    from yolov12.latency import measure
    from yolov12.models import torch_model

    theirs = DetectionModel("yolo12n.yaml", verbose=False).eval()
    ours = torch_model("yolov12", "n").eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    cells = {"ours": [], "ultralytics": []}
    for _ in range(rounds):
        for name, model in (("ours", ours), ("ultralytics", theirs)):
            r = measure(model, devices=[device], precisions=[precision], threads=threads, verbose=False, **plan_kw)
            cells[name].append(r["cells"][0])
    med = {k: _median([c["median_ms"] for c in v]) if all(c["status"] == "ok" for c in v) else None
           for k, v in cells.items()}
    out = {"device": device, "precision": precision, "median_ms": med, "cells": cells,
           "ratio_theirs_over_ours": med["ultralytics"] / med["ours"] if all(med.values()) else None,
           "status": cells["ours"][0]["status"], "reason": cells["ours"][0]["reason"]}
    print(f"model {device} {precision}: {med}  ratio theirs/ours {out['ratio_theirs_over_ours']}", flush=True)
    return out


def bench_repeat(device, precision, plan_kw, threads, runtime="eager"):
    from yolov12.latency import cv_of, measure

    cells = []
    for _ in range(3):
        r = measure({"scale": "n"}, devices=[device], precisions=[precision], runtimes=[runtime], threads=threads,
                    verbose=False, **plan_kw)
        cells.append(r["cells"][0])
    ok = all(c["status"] == "ok" for c in cells)
    medians = [c["median_ms"] for c in cells] if ok else None
    target = 0.03 if device == "cpu" else 0.01
    out = {"device": device, "precision": precision, "runtime": runtime, "medians_ms": medians,
           "cv_of_medians": cv_of(medians) if ok else None, "target": target,
           "met": (cv_of(medians) <= target) if ok else None, "cells": cells,
           "status": cells[0]["status"], "reason": cells[0]["reason"]}
    print(f"repeat {device} {precision} {runtime}: medians {medians} cv {out['cv_of_medians']}", flush=True)
    return out


def bench_area(plan_kw, x_plan_kw, rounds, threads):
    from yolov12.latency.profile import profile
    from yolov12.latency import measure

    rows = []
    for scale in ("n", "s", "x"):
        kw = x_plan_kw if scale == "x" else plan_kw
        n_rounds = 1 if scale == "x" else rounds
        variants = {"area_off": {"area": 1}, "area_on": {}}
        cells = {k: [] for k in variants}
        flops = {k: profile({"scale": scale, "knobs": kn}, imgsz=640, timing=False, threads=threads)
                 for k, kn in variants.items()}
        for _ in range(n_rounds):
            for k, knobs in variants.items():
                r = measure({"scale": scale, "knobs": knobs}, threads=threads, verbose=False, **kw)
                cells[k].append(r["cells"][0])
        med = {k: _median([c["median_ms"] for c in v]) for k, v in cells.items()}
        row = {"scale": scale, "imgsz": 640, "device": "cpu", "precision": "fp32", "median_ms": med,
               "speedup_on_over_off": med["area_off"] / med["area_on"],
               "paper_cpu_ms": dict(zip(("area_off", "area_on"), PAPER_TABLE3_CPU[scale])),
               "paper_speedup": PAPER_TABLE3_CPU[scale][0] / PAPER_TABLE3_CPU[scale][1],
               "gflops": {k: f["gflops"] for k, f in flops.items()},
               "gflops_true": {k: f["gflops_true"] for k, f in flops.items()},
               "plan": kw, "rounds": n_rounds, "cells": cells}
        rows.append(row)
        print(f"area {scale}: off {med['area_off']:.1f} ms  on {med['area_on']:.1f} ms  speedup "
              f"{row['speedup_on_over_off']:.2f} (paper {row['paper_speedup']:.2f})  true GFLOPs "
              f"{row['gflops_true']['area_off']:.2f} -> {row['gflops_true']['area_on']:.2f}", flush=True)
    return rows


def bench_kernels(device, precision, plan_kw, threads):
    from yolov12.latency import measure, ratio_with_ci

    result = measure({"scale": "n"}, devices=[device], precisions=[precision], threads=threads, verbose=False,
                     backends=["naive", "sdpa_noflash", "sdpa", "flash_attn"], **plan_kw)
    ok = {c["backend"]: c for c in result["cells"] if c["status"] == "ok"}
    ratios = {f"{a}/{b}": ratio_with_ci(ok[a], ok[b]) for a in ok for b in ok if a < b}
    for c in result["cells"]:
        print(f"kernels {device} {precision} {c['backend']}: {c['status']} kernel {c['kernel']} median "
              f"{c['median_ms']} CI {c['median_ci_ms']} contended {c['contended']} {c['reason'] or ''}", flush=True)
    return {"device": device, "precision": precision, "cells": result["cells"], "ratios": ratios,
            "method": result["method"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sections", nargs="+", default=["attn", "model", "repeat", "area"],
                    choices=["attn", "model", "repeat", "area", "proposal", "matrix", "kernels"])
    ap.add_argument("--device", nargs="+", default=None, help="default: cpu, plus cuda:0 when available")
    ap.add_argument("--threads", type=int, default=None, help="default: physical cores")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small iteration counts (a smoke run, not for the docs)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    from yolov12.offline import configure_job_process

    configure_job_process()  # offline defaults, as the suite's commands do, before Ultralytics is imported
    import torch

    from yolov12.io import write_json
    from yolov12.latency import TimingPlan
    from yolov12.latency.env import capture_env, default_threads, hardware_slug, load_average

    threads = args.threads or default_threads()
    torch.set_num_threads(threads)
    devices = args.device or (["cpu", "cuda:0"] if torch.cuda.is_available() else ["cpu"])
    plan_kw = dict(warmup_iters=10, warmup_s=1.0, min_iters=50, min_s=2.0)
    if args.quick:
        plan_kw = dict(warmup_iters=2, warmup_s=0.0, min_iters=5, min_s=0.0)
    x_plan_kw = dict(warmup_iters=2, warmup_s=0.0, min_iters=5, min_s=0.0)
    module_plan = TimingPlan(warmup_iters=plan_kw["warmup_iters"], warmup_s=plan_kw["warmup_s"] / 2,
                             min_iters=plan_kw["min_iters"], min_s=plan_kw["min_s"] / 2)
    env = capture_env(threads)
    gpu_note = None if torch.cuda.is_available() else \
        "no CUDA device on this machine: the GPU cells (CUDA fp16) are unavailable and not reported"
    hw = hardware_slug(env, "cpu")
    out = Path(args.out)

    def save(what, payload):
        t_end = load_average()
        path = write_json(out / f"latency_{what}_{hw}.json",
                          {"env": env, "loadavg_end": t_end, "threads": threads, "gpu": gpu_note,
                           "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), **payload}, indent=1)
        print("->", path, flush=True)

    t0 = time.perf_counter()
    precision_of = {"cpu": "fp32"}
    if "attn" in args.sections:
        rows = []
        for d in devices:
            rows += bench_attention(d, "fp16" if d.startswith("cuda") else "fp32", module_plan, args.rounds, threads)
        save("attn_module", {"plan": module_plan.as_dict(), "rounds": args.rounds, "rows": rows})
    if "model" in args.sections:
        rows = [bench_model(d, precision_of.get(d, "fp16"), {**plan_kw, "imgszs": [640]}, args.rounds, threads)
                for d in devices]
        save("model_vs_ultralytics", {"plan": plan_kw, "rounds": args.rounds, "rows": rows})
    if "repeat" in args.sections:
        rows = [bench_repeat(d, precision_of.get(d, "fp16"), {**plan_kw, "imgszs": [640]}, threads) for d in devices]
        save("repeatability", {"plan": plan_kw, "rows": rows})
    if "proposal" in args.sections:
        res = bench_proposal(module_plan, {**plan_kw, "imgszs": [640]}, args.rounds, threads)
        save("attn_proposal", {"plan": plan_kw, "module_plan": module_plan.as_dict(), "rounds": args.rounds, **res})
    if "matrix" in args.sections:
        from yolov12.latency import measure, write_results

        small = dict(warmup_iters=3, warmup_s=0.5, min_iters=10, min_s=0.5, imgszs=[640], threads=threads)
        result = measure({"scale": "n"}, devices=["cpu", "cuda:0"], precisions=["fp32", "fp16", "bf16"],
                         runtimes=["eager", "onnxruntime", "cudagraphs", "tensorrt"], scopes=["forward", "end2end"],
                         **small)
        result["cells"] += measure({"scale": "n"}, runtimes=["compile"], **small)["cells"]
        for path in write_results(result, out, tag="matrix-yolov12n"):
            print("->", path, flush=True)
    if "kernels" in args.sections:
        rows = [bench_kernels(d, precision_of.get(d, "fp16"), {**plan_kw, "imgszs": [640]}, threads) for d in devices]
        save("kernels", {"plan": plan_kw, "rows": rows})
    if "area" in args.sections:
        rows = bench_area({**plan_kw, "imgszs": [640]}, {**x_plan_kw, "imgszs": [640]}, max(1, args.rounds - 1),
                          threads)
        save("area_ablation", {"plan": plan_kw, "x_plan": x_plan_kw, "rows": rows})
    print(f"done in {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
