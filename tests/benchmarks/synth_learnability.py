"""Benchmark (not a test): what yolov12n reaches on the default synthetic detection set in the default budget.

    .venv/bin/python tests/benchmarks/synth_learnability.py [--epochs 30] [--out tests/benchmarks/results]

Writes ``synth_learnability.json`` (recipe, per-epoch mAP50 / mAP50-95, wall time, machine) next to the README's
figure. Small-scale recipe: Ultralytics steps the optimizer once per ``nbs`` images (default 64), so a batch of 16
on a 256-image set would step only 4 times per epoch; we set ``nbs`` = batch so every batch is a step (and weight
decay, scaled by batch/nbs, stays at its nominal value).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

RECIPE = dict(epochs=30, imgsz=160, batch=16, nbs=16, optimizer="auto", close_mosaic=5, workers=0, device="cpu",
              plots=False, val=True, seed=0, deterministic=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()

    import pandas as pd
    import torch

    import yolov12
    from yolov12.data.synth import SynthSpec, generate
    from yolov12.io import write_json

    recipe = {**RECIPE, "epochs": args.epochs}
    with tempfile.TemporaryDirectory() as tmp:
        spec = SynthSpec()  # the default synthetic detection set
        manifest = generate(Path(tmp) / "synth", spec, verbose=False)
        model = yolov12.build("yolov12", "n", nc=spec.nc)
        t0 = time.perf_counter()
        model.train(data=manifest["data"], project=tmp, name="run", verbose=False, **recipe)
        wall = time.perf_counter() - t0
        curve = pd.read_csv(Path(model.trainer.save_dir) / "results.csv")
    result = {
        "model": "yolov12n (v1.0, default knobs)", "dataset": {"spec": manifest["spec"], "counts": manifest["counts"]},
        "recipe": recipe, "wall_s": round(wall, 1),
        "final": {"mAP50": float(curve["metrics/mAP50(B)"].iloc[-1]),
                  "mAP50-95": float(curve["metrics/mAP50-95(B)"].iloc[-1])},
        "best_mAP50": float(curve["metrics/mAP50(B)"].max()),
        "curve_mAP50": [round(float(v), 4) for v in curve["metrics/mAP50(B)"]],
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__},
    }
    path = write_json(Path(args.out) / "synth_learnability.json", result, indent=1)
    print(json.dumps({k: result[k] for k in ("wall_s", "final", "best_mAP50")}), "->", path)


if __name__ == "__main__":
    main()
