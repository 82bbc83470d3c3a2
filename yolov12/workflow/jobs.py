"""Workflow jobs. The Snakefile writes one spec (JSON) per job; ``yolov12 workflow run KIND --spec S --out O`` runs it.

A spec holds everything that determines the job's result, so Snakemake reruns a job exactly when its spec changes.
Volatile context (git commit, config hash) reaches the job through environment variables set by the Snakefile and
ends up only in MLflow tags.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from ..gitinfo import git_commit
from ..io import write_json
from . import tracking

MODEL_KEYS = ("family", "scale", "task", "hierarchy")


class Diverged(RuntimeError):
    """Raised from a training callback: the loss became NaN/inf or exploded."""

    def __init__(self, epoch: int, loss: float, reason: str):
        super().__init__(f"training diverged in epoch {epoch}: {reason} (mean loss {loss})")
        self.epoch, self.loss, self.reason = epoch, loss, reason


class DivergenceGuard:
    """Ultralytics would 'recover' a NaN loss by reloading last.pt, hiding the divergence the paper reports
    (Table 2, "did not converge"); this stops the run at the first NaN/inf or exploded mean loss instead."""

    def __init__(self, max_loss: float):
        self.max_loss = max_loss

    def __call__(self, trainer) -> None:
        if trainer.tloss is None:
            return
        values = trainer.tloss.values() if isinstance(trainer.tloss, dict) else trainer.tloss
        total = float(sum(float(v) for v in values))
        loss = float(trainer.loss.detach().float().sum()) if trainer.loss is not None else total
        epoch = trainer.epoch + 1
        if not (math.isfinite(total) and math.isfinite(loss)):
            raise Diverged(epoch, total, "loss is NaN/inf")
        if total > self.max_loss:
            raise Diverged(epoch, total, f"mean loss above max_loss={self.max_loss}")


def context_tags(spec: dict[str, Any], kind: str) -> dict[str, str]:
    rows = spec["rows"]
    model = spec["model"]
    return {
        "kind": kind, "study": rows[0][0], "variant": rows[0][1],
        "studies": ",".join(sorted({r[0] for r in rows})), "rows": json.dumps(rows),
        "scale": model["scale"], "task": model["task"], "family": model["family"],
        "hierarchy": model["hierarchy"], "variant_dir": spec["variant_dir"], "config": spec["config"],
        "config_hash": os.environ.get("YOLOV12_CONFIG_HASH", "unknown"),
        "git_commit": os.environ.get("YOLOV12_GIT_COMMIT") or git_commit() or "unknown",
        "device": spec.get("device", "cpu"),
    }


def model_params(spec: dict[str, Any]) -> dict[str, Any]:
    model = spec["model"]
    return {**{k: model[k] for k in MODEL_KEYS}, **{f"knob.{k}": v for k, v in model["knobs"].items()}}


def log(spec, kind, params, metrics, curves=None, artifacts=None) -> str:
    m = spec["mlflow"]
    return tracking.log_run(m["uri"], m["experiment"], f"{kind}:{spec['variant_dir']}", params, metrics,
                            context_tags(spec, kind), curves, artifacts)


def read_curves(results_csv: Path) -> list[dict[str, float]]:
    if not results_csv.is_file():
        return []
    import pandas as pd

    df = pd.read_csv(results_csv)
    df.columns = [c.strip() for c in df.columns]
    return df.to_dict("records")


# ------------------------------------------------------------------------------------------------ train
def checkpoint_state(last: Path) -> str:
    """'missing', 'interrupted' (has optimizer state to resume) or 'finished' (Ultralytics strips it at the end)."""
    if not last.is_file():
        return "missing"
    import torch

    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    return "interrupted" if ckpt.get("optimizer") is not None and ckpt.get("epoch", -1) >= 0 else "finished"


def run_train(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    import yolov12
    from ultralytics import YOLO

    run_dir = Path(spec["run_dir"])
    last = run_dir / "train" / "weights" / "last.pt"
    model_spec = spec["model"]
    state = checkpoint_state(last)
    if state == "finished":  # trained before, only the bookkeeping after it failed: do not train again
        print(f"{last} is a finished training; collecting its results", flush=True)
        model, train_args = None, None
    elif state == "interrupted":  # continue from the last epoch
        print(f"resuming from {last}", flush=True)
        model, train_args = YOLO(str(last)), {"resume": True}
    else:
        model = yolov12.build(**{k: model_spec[k] for k in MODEL_KEYS}, nc=model_spec["nc"], **model_spec["knobs"])
        train_args = {**spec["args"], "data": spec["data"], "project": str(run_dir), "name": "train",
                      "exist_ok": True, "verbose": True}
    t0 = time.perf_counter()
    result: dict[str, Any] = {"converged": True, "diverged_epoch": None, "reason": None}
    try:
        if model is not None:
            model.add_callback("on_train_batch_end", DivergenceGuard(spec["max_loss"]))
            model.train(**train_args)
    except Diverged as d:
        print(f"not converged: {d}", flush=True)
        result.update(converged=False, diverged_epoch=d.epoch, reason=d.reason)
    train_dir = run_dir / "train"
    curves = read_curves(train_dir / "results.csv")
    best = train_dir / "weights" / "best.pt"
    result.update(seconds=round(time.perf_counter() - t0, 1), epochs_done=len(curves),
                  epochs=spec["args"]["epochs"], best=str(best) if best.is_file() else None,
                  results_csv=str(train_dir / "results.csv"))
    final = {k: v for k, v in (curves[-1] if curves else {}).items() if k != "epoch"}
    params = {**model_params(spec), **{f"train.{k}": v for k, v in spec["args"].items()}, "data": spec["data"]}
    metrics = {**{f"final/{k}": v for k, v in final.items()}, "converged": float(result["converged"]),
               "train_seconds": result["seconds"]}
    if result["diverged_epoch"]:
        metrics["diverged_epoch"] = result["diverged_epoch"]
    result["mlflow_run_id"] = log(spec, "train", params, metrics, curves,
                                  [train_dir / "results.csv", train_dir / "results.png"])
    write_json(out, result, indent=1)
    return result


# ------------------------------------------------------------------------------------------------ evaluate
def run_evaluate(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    from ..evaluate import evaluate

    train = json.loads(Path(spec["train_result"]).read_text())
    if not train["converged"] or not train["best"]:
        result = {"status": "not_converged", "diverged_epoch": train["diverged_epoch"], "reason": train["reason"],
                  "coco": {}, "ultralytics": {}}
        metrics = {}
    else:
        s = spec["settings"]
        result = evaluate(train["best"], spec["data"], task=spec["model"]["task"], backend=s["backend"],
                          imgsz=spec["imgsz"], conf=s["conf"], iou=s["iou"], max_det=s["max_det"], batch=s["batch"],
                          device=spec.get("device"))
        result["status"] = "ok"
        metrics = {**{f"{t}/{k}": v for t, m in result["coco"].items() for k, v in m.items()
                      if isinstance(v, float)}, **result["ultralytics"]}
    params = {**model_params(spec), **{f"eval.{k}": v for k, v in spec["settings"].items()}, "data": spec["data"]}
    result["mlflow_run_id"] = log(spec, "evaluate", params, metrics)
    write_json(out, result, indent=1)
    return result


# ------------------------------------------------------------------------------------------------ complexity
def run_complexity(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    from ..complexity import summary
    from ..models import torch_model

    m = spec["model"]
    knobs = dict(m["knobs"])
    if knobs.get("backend") == "flash_attn":  # FLOPs do not depend on the kernel; flash-attn needs CUDA to run
        knobs["backend"] = "sdpa"
    model = torch_model(**{k: m[k] for k in MODEL_KEYS}, nc=m["nc"], **knobs)
    result = summary(model, spec["imgsz"])
    from ..complexity.profile import profile

    true = profile(model, imgsz=spec["imgsz"], timing=False)  # FLOPs including the attention matmuls
    result.update(gflops_true=true.get("gflops_true"), attn_flops_share=true.get("attn_flops_share"))
    result["mlflow_run_id"] = log(spec, "complexity", {**model_params(spec), "imgsz": spec["imgsz"]},
                                  {k: v for k, v in result.items() if k != "imgsz"})
    write_json(out, result, indent=1)
    return result


# ------------------------------------------------------------------------------------------------ export
def flatten_tensors(output) -> list:
    """Every tensor of a (nested) model output, in order."""
    import torch

    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    return [t for o in (output or []) if isinstance(o, (torch.Tensor, list, tuple, dict)) for t in flatten_tensors(o)]


def run_export(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    """ONNX export of the trained model and an output-parity check against PyTorch on the same input."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from ultralytics import YOLO

    train = json.loads(Path(spec["train_result"]).read_text())
    result: dict[str, Any] = {"status": "not_converged"} if not train["best"] else {}
    if train["best"]:
        imgsz = spec["imgsz"]
        yolo = YOLO(train["best"])
        onnx_path = Path(yolo.export(format="onnx", imgsz=imgsz, simplify=True, dynamic=False, verbose=False))
        x = torch.rand(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            refs = flatten_tensors(yolo.model.float().eval()(x))
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        outputs = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
        err, tol = 0.0, 0.0
        for got in outputs:  # each ONNX output against the PyTorch tensor of the same shape (seg: preds, protos)
            ref = next((r.numpy() for r in refs if tuple(r.shape) == got.shape), None)
            if ref is None:
                err = float("inf")
                break
            err = max(err, float(np.abs(got - ref).max()))
            tol = max(tol, 1e-3 * max(1.0, float(np.abs(ref).max())))
        result = {"status": "ok" if err <= tol else "failed", "onnx": str(onnx_path), "imgsz": imgsz,
                  "max_abs_err": err, "tolerance": tol, "outputs": [list(o.shape) for o in outputs]}
    result["mlflow_run_id"] = log(spec, "export", {**model_params(spec), "imgsz": spec["imgsz"]},
                                  {"max_abs_err": result.get("max_abs_err", float("nan")),
                                   "parity_ok": float(result["status"] == "ok")})
    write_json(out, result, indent=1)
    return result


RUNNERS = {"train": run_train, "evaluate": run_evaluate, "complexity": run_complexity, "export": run_export}


def run(kind: str, spec_path: str | Path, out: str | Path) -> dict[str, Any]:
    spec = json.loads(Path(spec_path).read_text())
    spec.update(json.loads((Path(spec_path).parent / "context.json").read_text()))  # rows, MLflow experiment
    if kind == "latency":
        from .latency_job import run_latency

        return run_latency(spec, Path(out))
    if kind not in RUNNERS:
        raise ValueError(f"job kind {kind!r} is not allowed; allowed values: {sorted([*RUNNERS, 'latency'])}")
    return RUNNERS[kind](spec, Path(out))
