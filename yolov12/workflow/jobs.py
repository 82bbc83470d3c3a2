"""Workflow jobs: ``yolov12 workflow run KIND --spec JSON --out FILE --store FILE --gpus N`` runs one job.

The spec is the job's identity (a Snakemake param, see ``yolov12.workflow.plan`` and docs/identity.md): everything
that determines the result and nothing else. Where the job runs is given beside it and added here: the run
directory and the config's name (from ``--out``), the MLflow URI (read from the store's marker), the devices
(``--gpus``, the job's resources), the data path (from the data manifest). A job writes its folder's identity in
``identity.json`` and its own in its result. A job holds its place on the node (``yolov12.workflow.node``: its own devices; timing jobs alone), runs, and writes its
result file only when it succeeded: a failed job leaves no result a later run could mistake for one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..io import write_json
from ..registry import JOB_KINDS
from . import kinds, node, tracking

MODEL_KEYS = ("family", "scale", "task", "hierarchy")


def load_spec(text: str) -> dict[str, Any]:
    """A spec given inline (JSON) or as a file."""
    text = text.strip()
    try:
        return json.loads(text if text.startswith("{") else Path(text).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"not a job spec: {e}", key="--spec") from None


def with_context(kind: str, ident: dict[str, Any], out: Path, store: str | None, gpus: int, data: str | None,
                 train: str | None) -> dict[str, Any]:
    """The identity plus where the job runs: none of this is part of what the job's result is a function of."""
    from .placement import data_path, device_string

    spec = json.loads(json.dumps(ident))
    uri = Path(store).read_text().strip() if store else tracking.tracking_uri(out.parents[2])
    spec.update(identity=ident, run_dir=str(out.parent), config=out.parents[2].name, mlflow={"uri": uri},
                resources={"gpus": int(gpus)})
    context = kinds.hook(kind, "context")  # what the kind's runner needs of where it runs (its device, ...)
    if context:
        context(spec, device_string(gpus), train)
    if data:
        spec["data"] = data_path(data, spec["model"]["task"])
    return spec


def folder_identity(kind: str, ident: dict[str, Any]) -> dict[str, Any]:
    """What the folder's name is the digest of: a training's identity, a session's whole identity, or the
    architecture's; a kind that lives in another kind's folder says which (``kinds.<kind>.folder_identity``)."""
    own = kinds.hook(kind, "folder_identity")
    if own:
        return own(ident)
    return {"model": ident["model"]} if JOB_KINDS[kind].scope == "architecture" else ident


def claim_folder(kind: str, ident: dict[str, Any], run_dir: Path) -> None:
    """Write ``identity.json``; refuse a folder that holds another identity (never reuse another spec's work)."""
    from . import identity

    mine = identity.canonical(folder_identity(kind, ident))
    path = run_dir / "identity.json"
    if path.is_file():
        held = json.loads(path.read_text())
        if held != mine:
            raise UserError("the run directory holds another identity; remove the folder to rebuild it",
                            file=path)
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, mine, indent=1)


def named_inputs(inputs: list[str]) -> dict[str, str]:
    """The job's inputs by role: the store's marker, a training's result, an export's result, else the data
    manifest."""
    named: dict[str, str] = {}
    for path in inputs:
        name = Path(path).name
        if name.startswith("weights.damaged."):
            continue
        # an export's result: a timing session reads it from its cells' folders (yolov12.workflow.latency_job)
        role = {"store.ready": "store", JOB_KINDS["train"].result: "train",
                JOB_KINDS["export"].result: "export"}.get(name, "data")
        named[role] = path
    return named


def run(kind: str, spec_text: str, out: str | Path, gpus: int = 0, inputs: list[str] = ()) -> dict[str, Any]:
    if kind not in JOB_KINDS:
        raise UserError(f"{kind!r} is not a job kind", key="KIND", allowed=list(JOB_KINDS))
    job = JOB_KINDS[kind]
    out = Path(out)
    given = load_spec(spec_text)
    if "identity" in given:  # a whole spec (Plan.spec: a job run by hand or by a test)
        ident, spec = given["identity"], given
    else:  # an identity, as the workflow gives it: where the job runs comes from its command line
        ident = given
        named = named_inputs(list(inputs))
        spec = with_context(kind, ident, out, named.get("store"), gpus, named.get("data"), named.get("train"))
    out.unlink(missing_ok=True)  # a rerun starts from nothing
    claim_folder(kind, ident, out.parent)
    results_dir = Path(spec["run_dir"]).parents[1]
    if node.simulated():  # a simulated multi-GPU node: devices are assigned and recorded, the work runs on the CPU
        spec = node.on_cpu(spec)
    with node.node_slot(results_dir, f"{kind}:{Path(spec['run_dir']).name}", exclusive=job.timing,
                        gpus=spec["resources"]["gpus"]) as hold:
        spec["node"] = hold
        result = job.load_runner()(spec, out)
    result.setdefault("node", {k: hold[k] for k in ("host", "devices", "exclusive", "start")})
    result["identity"] = ident
    write_json(out, result, indent=1)
    return result


def job_run(kind: str, spec: dict[str, Any], model_dir: str | None = None) -> tracking.JobRun:
    """The job's MLflow run; ``model_dir``: one architecture's own run inside a session job, named by that
    architecture's folder (its id kept beside the session's result, one file per architecture)."""
    run_dir = Path(spec["run_dir"])
    tags = tracking.common_tags(kind, spec)
    if model_dir:
        tags["model_dir"] = model_dir
    name = f"{kind}:{model_dir or run_dir.name}"
    id_file = run_dir / (f"{kind}.{model_dir}.mlflow_run" if model_dir else f"{kind}.mlflow_run")
    job = tracking.JobRun(spec["mlflow"]["uri"], run_dir.parents[1], spec["config"], name, tags, id_file)
    job.start()
    return job


def model_params(spec: dict[str, Any]) -> dict[str, Any]:
    model = spec["model"]
    return {**{k: model[k] for k in MODEL_KEYS}, **{f"knob.{k}": v for k, v in model["knobs"].items()}}


def finish(job: tracking.JobRun, result: dict[str, Any], params: dict[str, Any], metrics: dict[str, Any],
           artifacts=()) -> dict[str, Any]:
    job.log_params(params)
    job.log_metrics(metrics)
    job.log_artifacts(artifacts)
    job.end(True)
    result["mlflow_run_id"] = job.run_id
    return result


def _guarded(kind: str, spec: dict[str, Any], work, model_dir: str | None = None) -> dict[str, Any]:
    """Run ``work(job)``; a failure ends the MLflow run FAILED with its reason, then propagates."""
    job = job_run(kind, spec, model_dir)
    try:
        return work(job)
    except BaseException as e:
        job.end(False, f"{type(e).__name__}: {e}")
        raise


def read_train(spec: dict[str, Any]) -> dict[str, Any]:
    return json.loads(Path(spec["train_result"]).read_text())


# ------------------------------------------------------------------------------------------------ evaluate
def run_evaluate(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    def work(job):
        from ..evaluate import evaluate

        train = read_train(spec)
        s = spec["settings"]
        params = {**model_params(spec), **{f"eval.{k}": v for k, v in s.items()}, "data": spec["data"]}
        if not train["converged"] or not train["best"]:
            result = {"status": "not_converged", "diverged_epoch": train["diverged_epoch"],
                      "reason": train["reason"], "coco": {}, "ultralytics": {}}
            return finish(job, result, params, {"converged": 0.0, "diverged_epoch": train["diverged_epoch"]})
        device = _eval_device(spec)
        asked = s.get("precision", "fp32")
        precision = "fp32" if device == "cpu" else asked  # fp16 is the paper's CUDA evaluation; a CPU runs fp32
        detail = Path(spec["run_dir"]) / "eval.detail.json"  # and eval.detail.predictions.json (the bootstrap's)
        result = evaluate(train["best"], spec["data"], task=spec["model"]["task"], out=str(detail),
                          backend=s["backend"], imgsz=spec["imgsz"], conf=s["conf"], iou=s["iou"],
                          max_det=s["max_det"], batch=s["batch"], device=device, precision=precision)
        result["status"] = "ok"  # result["precision"] is what ran
        result["weights"] = train.get("weights")  # the checksum of the model it scored
        if asked != result.get("precision"):
            result["precision_note"] = f"{asked} asked for; evaluated in {result.get('precision')} on {device}"
        metrics = {f"{t}/{k}": v for t, m in result["coco"].items() for k, v in m.items() if isinstance(v, float)}
        metrics.update({k: v for k, v in result["ultralytics"].items() if isinstance(v, float)})
        return finish(job, result, params, metrics, [result.get("predictions")])

    return _guarded("evaluate", spec, work)


def _eval_device(spec: dict[str, Any]) -> str:
    """Validation runs on one device: the first the job holds (numbered from 0 among its own)."""
    return spec.get("device", "cpu").split(",")[0]


# ------------------------------------------------------------------------------------------------ export
def run_export(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    """The architecture's exported files and, where the export carries a training's weights, each file's accuracy
    beside eager (ΔAP with its interval, the tolerance flag, the file's SHA-256; yolov12.evaluate.artifact).

    One export per architecture, shared by every variant that has it (docs/identity.md). Its files are those the
    latency matrix times (``spec["artifacts"]``, yolov12.workflow.artifacts: derived, at the timing size), else one
    fp32 ONNX file at ``export.imgsz``. It carries the weights of one training of that architecture
    (Plan.exported_training); with no training in the plan, seeded weights: the files are made and timed, their
    accuracy is not measured (a gap in every table, never a pass). The weights are copied beside the files: the
    timing session's correctness gate compares each file with them."""

    def work(job):
        import shutil

        import torch

        from .. import models

        params = {**model_params(spec), "imgsz": spec["imgsz"]}
        m = spec["model"]
        folder = Path(spec["run_dir"]) / "export"
        if folder.exists():
            shutil.rmtree(folder)  # a rerun starts from nothing: no file of an earlier export is left to time
        folder.mkdir(parents=True)
        weights = folder / f"{Path(spec['run_dir']).name.rsplit('-arch-', 1)[0]}.pt"
        if spec.get("train_result"):
            train = json.loads(Path(spec["train_result"]).read_text())
            if not train.get("converged") or not train.get("best"):
                return finish(job, {"status": "not_converged", "artifacts": []}, params, {})
            shutil.copyfile(train["best"], weights)
        else:
            torch.manual_seed(0)
            if m.get("peer"):  # a peer of the paper's tables, from Ultralytics' own definition
                from ultralytics import YOLO

                from ..latency.paper_peers import peer_spec

                yolo = YOLO(peer_spec(m["peer"]).ultralytics, task="detect")
            else:
                knobs = {k: v for k, v in m["knobs"].items() if k != "backend"}  # a kernel setting, not weights
                yolo = models.build(**{k: m[k] for k in MODEL_KEYS}, nc=m["nc"], **knobs)
            yolo.save(str(weights))
        from .artifact_link import export_files

        result = export_files(spec, weights, folder)
        result["weights"] = "trained" if spec.get("train_result") else "seeded"
        metrics = {"parity_ok": float(result["status"] == "ok")}
        if result.get("max_abs_err") is not None:
            metrics["max_abs_err"] = result["max_abs_err"]
        for a in result["artifacts"]:
            if a.get("accuracy"):
                from ..evaluate.artifact import artifact_metrics

                metrics.update(artifact_metrics(a["accuracy"]))
        return finish(job, result, params, metrics)

    return _guarded("export", spec, work)
