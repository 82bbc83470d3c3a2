"""Job specs: what each job needs, derived from the config and the study runs (used by the Snakefile)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from . import tracking
from .studies import Run

REAL_NC = {"detect": 80, "segment": 80, "pose": 1, "classify": 1000, "obb": 15}


def dataset(task: str, config: dict[str, Any], results_dir: str | Path) -> dict[str, Any]:
    """Where a task's data live: the manifest a data rule produces, the path Ultralytics trains on, the classes."""
    results_dir = Path(results_dir).resolve()
    data = config["data"]
    if data["kind"] == "synthetic":
        root = results_dir / "data" / task
        synth = data["synthetic"]
        return {"manifest": str(root / "dataset.json"), "data": str(root if task == "classify" else root / "data.yaml"),
                "nc": 1 if task == "pose" else synth["nc"]}
    if task in ("detect", "segment", "pose"):
        root = results_dir / "data" / "coco"
        return {"manifest": str(root / "coco.json"), "data": str(root / f"coco-{task}.yaml"), "nc": REAL_NC[task]}
    if task == "classify":
        root = results_dir / "data" / "imagenet"
        return {"manifest": str(root / "imagenet.json"), "data": str(root), "nc": REAL_NC[task]}
    root = Path(data["dota_root"] or "")
    return {"manifest": str(root / "dota.yaml"), "data": str(root / "dota.yaml"), "nc": REAL_NC[task]}


def train_args(run: Run, config: dict[str, Any]) -> dict[str, Any]:
    """Ultralytics train arguments: config recipe <- per-scale recipe <- the variant's overrides."""
    t = config["train"]
    overrides = {k: v for k, v in run.train.items() if k != "max_loss"}  # max_loss is the guard's, not Ultralytics'
    epochs = max(1, round(t["epochs"] * overrides.pop("epochs_scale", 1.0)))
    args = {"epochs": epochs, "imgsz": t["imgsz"], "batch": t["batch"], "device": t["device"],
            "workers": t["workers"]}
    args.update(t["recipe"])
    args.update(t["per_scale"].get(run.scale, {}))
    args.update(overrides)
    if args.get("device", "cpu") != "cpu" and "amp" not in args:
        args["amp"] = True
    return args


def make_spec(kind: str, variant_dir: str, runs: list[Run], config: dict[str, Any],
              results_dir: str | Path) -> dict[str, Any]:
    results_dir = Path(results_dir).resolve()
    run = runs[0]
    ds = dataset(run.task, config, results_dir)
    run_dir = results_dir / "runs" / variant_dir
    spec: dict[str, Any] = {
        "kind": kind, "config": config["name"], "variant_dir": variant_dir, "run_dir": str(run_dir),
        "model": {"family": run.family, "scale": run.scale, "task": run.task, "hierarchy": run.hierarchy,
                  "knobs": run.knobs, "nc": ds["nc"]},
    }
    if kind == "train":
        spec.update(data=ds["data"], args=train_args(run, config),
                    max_loss=run.train.get("max_loss", config["train"]["max_loss"]),
                    device=str(config["train"]["device"]))
    elif kind == "evaluate":
        spec.update(data=ds["data"], settings=dict(config["evaluate"]), imgsz=config["train"]["imgsz"],
                    train_result=str(run_dir / "train.json"), device=str(config["train"]["device"]))
    elif kind == "complexity":
        spec.update(imgsz=config["complexity"]["imgsz"])
    elif kind == "latency":
        spec.update(latency=dict(config["latency"]), device=",".join(config["latency"]["devices"]))
    if kind in ("complexity", "latency"):
        # architecture measurements use the paper's datasets' class counts (COCO 80, ImageNet 1000, DOTA 15), so
        # params / FLOPs / latency line up with the paper's whatever data this config trains on
        spec["model"]["nc"] = REAL_NC[run.task]
    elif kind == "export":
        spec.update(imgsz=config["export"]["imgsz"], train_result=str(run_dir / "train.json"))
    return spec


def make_context(variant_dir: str, runs: list[Run], config: dict[str, Any], results_dir: str | Path) -> dict:
    """What a job needs only for bookkeeping (MLflow experiment and tags): kept out of the specs, so adding a study
    that reuses a run directory, or renaming a variant, reruns nothing."""
    return {"rows": sorted([r.study, r.variant] for r in runs),
            "mlflow": {"uri": tracking.tracking_uri(results_dir),
                       "experiment": tracking.experiment_name(config["name"], sorted(r.study for r in runs)[0])}}


def write_if_changed(path: str | Path, obj: dict[str, Any]) -> Path:
    """Materialise a spec; an unchanged one keeps its mtime, so Snakemake reruns exactly the changed jobs."""
    from ..io import write_text

    path = Path(path)
    text = json.dumps(obj, indent=1, sort_keys=True) + "\n"
    if not path.is_file() or path.read_text() != text:
        write_text(path, text)
    return path


def measures(runs: list[Run]) -> set[str]:
    """Job kinds a run directory needs: the union over the studies that use it (evaluate needs train)."""
    kinds = set().union(*(r.measure for r in runs))
    if "evaluate" in kinds or "export" in kinds:
        kinds.add("train")
    return kinds


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]
