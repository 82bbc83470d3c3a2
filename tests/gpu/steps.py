"""The steps of tests/gpu/check.sh, one process each (so a step that hangs is killed by its ``timeout`` alone).

    python3 tests/gpu/steps.py STEP --work DIR [--device cuda:0] [--smoke]

Every step appends its records to ``DIR/<step>.jsonl`` as it goes (a step cut short by its timeout keeps what it
measured); ``report`` reads them all into ONE output folder. ``--smoke`` (no CUDA here) runs the same code on the
CPU at a tiny size, to prove the script's paths, and says so in every record.

Steps: env, equivalence, matrix, compile, ultralytics, isolation, roofline, artifact, report (tests/gpu/report.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCALES = ("n", "s")
PRECISIONS = ("fp32", "fp16", "bf16")
BACKENDS = ("naive", "sdpa_noflash", "sdpa", "flash_attn")


def emit(work: Path, step: str, record: dict) -> None:
    from yolov12.latency.core import finite

    with open(work / f"{step}.jsonl", "a") as f:
        f.write(json.dumps(finite(record), default=str) + "\n")


def plan(smoke: bool) -> dict:
    """GPU: 10 warm-up iterations / 0.2 s, then at least 100 iterations and 0.3 s (an eager yolov12n forward is a
    few ms; 100 samples put the median's interval within a few %); smoke: 64 px, a handful of iterations."""
    if smoke:
        return dict(imgszs=[64], warmup_iters=1, warmup_s=0.0, min_iters=3, min_s=0.0)
    return dict(imgszs=[640], warmup_iters=10, warmup_s=0.2, min_iters=100, min_s=0.3)


def step_env(a) -> None:
    from yolov12.latency.conditions import snapshot
    from yolov12.latency.env import capture_env

    env = capture_env()
    emit(a.work, "env", {"env": env, "snapshot": snapshot(a.device), "smoke": a.smoke})
    for g in env.get("gpus") or []:
        print(f"GPU {g['index']}: {g['name']} sm{g['capability']} {g['memory_gb']} GB uuid {g['uuid']} "
              f"nvml: {'yes' if g.get('nvml') else 'no'}")
    print(f"driver {env.get('driver')}  torch {env['software']['torch']}  CUDA {env.get('cuda_runtime')}  "
          f"CPU {env['cpu_model']} ISA {' '.join(env['cpu_isa'])} (torch: {env['torch_cpu_capability']})")


def step_equivalence(a) -> None:
    """Whole models, every backend, fp16 / bf16 against the fp32 naive reference (gate metric and tolerance)."""
    import copy

    import torch

    from yolov12.latency import gate as G
    from yolov12.latency.cell import attention_layers
    from yolov12.latency.kernels import backend_context, detect_kernel
    from yolov12.latency.runtimes import PRECISIONS, primary_outputs, set_attention_backend
    from yolov12.models import torch_model
    from yolov12.nn.attention import flash_attn_unavailable

    dev = torch.device(a.device)
    imgsz = 64 if a.smoke else 640
    for scale in SCALES[:1] if a.smoke else SCALES:
        torch.manual_seed(0)
        base = torch_model("yolov12", scale).eval().fuse(verbose=False).to(dev)
        x = torch.rand(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0)).to(dev)
        set_attention_backend(base, "naive")
        with torch.inference_mode():
            ref = primary_outputs(base(x))
        for precision in ("bf16",) if a.smoke else ("fp16", "bf16"):  # CPU fp16 convolutions are very slow
            for backend in BACKENDS:
                rec = {"scale": scale, "precision": precision, "backend": backend, "imgsz": imgsz, "smoke": a.smoke}
                why = flash_attn_unavailable(dev, PRECISIONS[precision]) if backend == "flash_attn" else None
                if why:
                    emit(a.work, "equivalence", {**rec, "status": "unavailable", "reason": why})
                    continue
                m = copy.deepcopy(base).to(PRECISIONS[precision])
                set_attention_backend(m, backend)
                try:
                    with torch.inference_mode(), backend_context(backend):
                        out = primary_outputs(m(x.to(PRECISIONS[precision])))
                        kernel = detect_kernel(lambda: m(x.to(PRECISIONS[precision])), dev, attention_layers(m))
                except Exception as e:  # noqa: BLE001  (recorded, the check goes on)
                    emit(a.work, "equivalence", {**rec, "status": "failed", "reason": f"{type(e).__name__}: {e}"})
                    continue
                v = G.check(out, ref, precision)
                emit(a.work, "equivalence", {**rec, "status": "ok" if v["passed"] else "failed", **v, **kernel})
                print(f"equivalence {scale} {precision} {backend}: max_rel_err {v['max_rel_err']:.2e} "
                      f"(tol {v['tolerance']}) kernel {kernel['kernel']}", flush=True)


def _measure(a, step: str, scale: str, **kw) -> None:
    from yolov12.latency import measure

    t0 = time.perf_counter()
    result = measure({"scale": scale}, devices=[a.device], threads=1 if a.smoke else None, **{**plan(a.smoke), **kw})
    emit(a.work, step, {"scale": scale, "smoke": a.smoke, "wall_s": time.perf_counter() - t0,
                        "method": result["method"], "cells": result["cells"]})


def step_matrix(a) -> None:
    """N and S x fp32/fp16/bf16 x eager/cudagraphs x every backend; then ONNX Runtime / TensorRT (where installed)
    with the model's own backend only: each of their cells exports a file, which costs seconds to minutes."""
    for scale in SCALES[:1] if a.smoke else SCALES:
        _measure(a, "matrix", scale, precisions=list(PRECISIONS), runtimes=["eager", "cudagraphs"],
                 backends=list(BACKENDS))
    for scale in SCALES[:1] if a.smoke else SCALES:
        _measure(a, "matrix", scale, precisions=["fp32", "fp16"], runtimes=["onnxruntime", "tensorrt"])


def step_compile(a) -> None:
    """torch.compile, default backend setting; one measure per (scale, precision) so a timeout keeps the rest."""
    for precision in ("fp32",) if a.smoke else ("fp16", "bf16", "fp32"):  # most telling first
        for scale in SCALES[:1] if a.smoke else SCALES:
            _measure(a, "compile", scale, precisions=[precision], runtimes=["compile"])


def step_ultralytics(a) -> None:
    """Our AreaAttention / whole yolov12n vs Ultralytics' AAttn / yolo12n, identical weights (fp16 on CUDA)."""
    sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
    import latency_benchmarks as B

    from yolov12.latency import TimingPlan

    precision = "fp32" if a.smoke else "fp16"
    module_plan = TimingPlan(1, 0.0, 3, 0.0) if a.smoke else TimingPlan(10, 0.1, 100, 0.2)
    rounds = 1 if a.smoke else 2  # interleaved rounds: ours and theirs alternate
    for row in B.bench_attention(a.device, precision, module_plan, rounds, 1, imgsz=128 if a.smoke else 640):
        emit(a.work, "ultralytics", {"what": "attention_module", "smoke": a.smoke, **row})
    row = B.bench_model(a.device, precision, plan(a.smoke), rounds, 1 if a.smoke else None)
    emit(a.work, "ultralytics", {"what": "whole_model", "smoke": a.smoke, **row})


HAMMER = """
import sys, time, torch
dev = sys.argv[1]
x = torch.randn(4096, 4096, device=dev) if dev.startswith("cuda") else torch.randn(512, 512)
x = (x @ x).clamp_(-1, 1)
print("ready", flush=True)  # busy on the device from here on
t = time.monotonic()
while time.monotonic() - t < float(sys.argv[2]):
    x = (x @ x).clamp_(-1, 1)
"""


def step_isolation(a) -> None:
    """The timing-isolation record: one cell alone, then the same cell while another process works on the device
    (it must be flagged contended, and its interval says how much it moved)."""
    kw = dict(precisions=["fp16" if not a.smoke else "fp32"], runtimes=["eager"])
    _measure(a, "isolation", "n", **kw)
    proc = subprocess.Popen([sys.executable, "-c", HAMMER, a.device, "60"], stdout=subprocess.PIPE, text=True)
    try:
        print(f"other process: {proc.stdout.readline().strip() or 'did not start'}", flush=True)
        _measure(a, "isolation", "n", **kw)
    finally:
        proc.kill()
        proc.wait()


def step_roofline(a) -> None:
    """Measured peaks of the device (square GEMM per precision, copy bandwidth) and one timed yolov12n cell placed on
    its roofline (yolov12.latency.roofline); smoke: the same on the CPU, short probes."""
    import os

    os.environ["YOLOV12_ROOFLINE_DIR"] = str(a.work / "roofline")  # measured here, never read from a cache
    from yolov12.latency import measure
    from yolov12.latency.roofline import annotate_cells, peaks

    precisions = ["fp32", "bf16"] if a.smoke else ["fp32", "fp16", "bf16"]
    t0 = time.perf_counter()
    record = peaks(a.device, precisions, threads=1 if a.smoke else None, seconds=0.3 if a.smoke else 2.0)
    emit(a.work, "roofline", {"what": "peaks", "smoke": a.smoke, "wall_s": time.perf_counter() - t0, **record})
    gemm = {p: round((g.get("flops_per_s") or 0) / 1e12, 2) for p, g in record["gemm"].items()}
    print(f"peaks {record['device_key']}: GEMM TFLOP/s {gemm}, copy {record['copy']['bytes_per_s'] / 1e9:.0f} GB/s",
          flush=True)
    precision = "fp32" if a.smoke else "fp16"
    spec = {"scale": "n", "nc": 80}
    result = measure(spec, devices=[a.device], precisions=[precision], runtimes=["eager"],
                     threads=1 if a.smoke else None, **plan(a.smoke))
    annotate_cells(result["cells"], spec, seconds=0.3 if a.smoke else 2.0)
    for c in result["cells"]:
        r = c.get("roofline") or {}
        emit(a.work, "roofline", {"what": "cell", "smoke": a.smoke, "cell": c})
        if r:
            print(f"cell {c['precision']} {c['runtime']} {c['imgsz']}: {c['median_ms']:.2f} ms, "
                  f"{r['achieved_flops_per_s'] / 1e9:.0f} GFLOP/s, intensity {r['arithmetic_intensity']:.1f} FLOP/B, "
                  f"{100 * (r['fraction_of_peak'] or 0):.1f} % of peak, bound {r['bound']}", flush=True)


def step_artifact(a) -> None:
    """One fp16 artifact scored beside fp32 eager on a small synthetic set: yolov12n trained briefly here, exported
    (TensorRT if installed, else ONNX on ONNX Runtime's CUDA EP if present, else TorchScript), evaluated through the
    same validator and COCO toolkit (yolov12.evaluate.artifact). Without CUDA it skips: fp16 artifacts need a GPU."""
    if a.smoke:
        emit(a.work, "artifact", {"skipped": "no CUDA device: fp16 artifacts run on a GPU", "smoke": True})
        print("artifact: skipped (no CUDA device)", flush=True)
        return
    import importlib.util

    import yolov12
    from yolov12.data.synth import generate
    from yolov12.evaluate.artifact import evaluate_artifact, export_artifact

    fmt = "torchscript"
    if importlib.util.find_spec("tensorrt") is not None:
        fmt = "engine"
    elif importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            fmt = "onnx"
    t0 = time.perf_counter()
    root = a.work / "artifact"
    manifest = generate(root / "data", task="detect", nc=1, n_train=64, n_val=32, imgsz=96, max_objects=3,
                        verbose=False)
    dev = a.device.split(":")[-1] if a.device.startswith("cuda") else a.device
    model = yolov12.build("yolov12", "n", nc=1)
    model.train(data=manifest["data"], epochs=15, imgsz=96, batch=8, nbs=8, warmup_epochs=1, workers=0, device=dev,
                plots=False, project=str(root), name="run", verbose=False, seed=0, amp=False)
    ckpt = model.trainer.best
    train_s = time.perf_counter() - t0
    artifact = export_artifact(ckpt, root / "export", fmt, 96, precision="fp16", device=dev)
    r = evaluate_artifact(ckpt, artifact, manifest["data"], root / "eval", imgsz=96, precision="fp16", device=dev,
                          n_boot=1000)
    emit(a.work, "artifact", {"smoke": False, "format": fmt, "train_s": train_s,
                              "wall_s": time.perf_counter() - t0, **r})
    print(f"artifact {fmt} fp16: AP {r['ap_artifact']:.4f} vs eager fp32 {r['ap_eager']:.4f}, "
          f"dAP {r['delta']:+.4f} [{r['lo']:+.4f}, {r['hi']:+.4f}], same model: {r['same_model']}, "
          f"sha256 {r['artifact']['sha256'][:12]}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["env", "equivalence", "matrix", "compile", "ultralytics", "isolation", "roofline",
                                     "artifact", "report"])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=None, help="report: the ONE folder for figures and summaries")
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--smoke", action="store_true", help="no CUDA: tiny CPU run of the same code")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    from yolov12.offline import configure_job_process

    configure_job_process()
    if a.step == "report":
        sys.path.insert(0, str(Path(__file__).parent))
        import report

        report.write(a.work, a.out or a.work, a.smoke)
        return
    globals()[f"step_{a.step}"](a)


if __name__ == "__main__":
    main()
