"""The cost model: every job the plan makes, with its predicted seconds, cores, devices and memory (docs/cost.md).

A job's time is a fixed part (process start, imports, model build, saving: ``overhead_s`` of its kind) plus a
part proportional to the images it processes (``*_s_per_image`` of its scale, scaled by pixel count and by the
cores / devices it has against those the calibration measured with). Anything the calibration does not cover is
left out of the sum and the job is marked a lower bound, so a total prints as ``>= x`` rather than as a guess.
No torch, no Ultralytics: the plan (yolov12.workflow.plan) and the calibration (numbers) only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ...registry import JOB_KINDS, REAL_DATA, TASK_TABLE
from ..artifacts import session_cells
from ..plan import Plan
from .calibration import per_image

# images in the real data sets (the config names no count for them): COCO train2017 / val2017, ImageNet-1k
# disk per job besides weights: its result JSON, log, MLflow rows and artifacts (measured on a default run)
RESULT_BYTES = {"train": 400_000, "evaluate": 60_000, "complexity": 20_000, "latency": 120_000, "export": 20_000}
SYNTH_BYTES_PER_PIXEL = 0.25  # the synthetic sets' JPEGs plus labels, measured on the default's data folder


@dataclasses.dataclass
class Job:
    kind: str
    run_dir: str  # a run directory, a task (data) or the config name (bookkeeping rules)
    seconds: float  # predicted wall; a lower bound when not ``exact``
    exact: bool  # False: some part was not calibrated and is missing from ``seconds``
    cpus: int
    gpus: int
    mem_mb: int  # what the config requests
    exclusive: bool  # a timing job: alone on the node
    after: tuple[str, ...] = ()  # ids of the jobs it waits for
    disk_bytes: float = 0.0  # results, logs, data
    weights_bytes: float = 0.0  # checkpoints and exported models

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.run_dir}"


def _images(plan: Plan, task: str) -> tuple[int, int] | None:
    """(train, val) images of a task's data; None when unknown (DOTA: its split is the user's)."""
    data = plan.config["data"]
    if data["kind"] == "synthetic":
        s = data["synthetic"]
        return s["n_train"], s["n_val"]
    return REAL_DATA[TASK_TABLE[task].real_data].images


def _scaled(cal: dict[str, Any], seconds: float, cpus: int, gpus: int, train: bool = False) -> float:
    """Time on the job's own cores / devices, assuming it divides linearly (optimistic for CPU cores, near the truth
    for data-parallel GPUs with a full batch). The calibration's ``gpus`` are those of its training numbers; its
    eval numbers are per single device."""
    if cal["device"] == "cpu":
        return seconds * cal.get("threads", 1) / max(cpus, 1)
    return seconds * (cal.get("gpus", 1) if train else 1) / max(gpus, 1)


def _overhead(cal: dict[str, Any], kind: str) -> float | None:
    return (cal.get("overhead_s") or {}).get(kind)


def job_cost(plan: Plan, cal: dict[str, Any], kind: str, run_dir: str) -> tuple[float, bool, float, float]:
    """(seconds, exact, disk bytes, weights bytes) of one job of the registry's kinds."""
    run = plan.groups[run_dir][0]
    res = plan.resources(kind)
    on_device = cal["device"] != "cpu"
    if on_device != (res["gpus"] > 0) and kind in ("train", "evaluate"):
        return 0.0, False, 0.0, 0.0  # a GPU calibration says nothing about a CPU job, and the reverse
    seconds, exact = 0.0, True
    overhead = _overhead(cal, kind)
    if overhead is None:
        exact = False
    else:
        seconds += overhead
    params = (cal.get("params") or {}).get(run.scale)
    disk, weights = float(RESULT_BYTES.get(kind, 0)), 0.0
    if kind in ("train", "evaluate"):
        images = _images(plan, run.task)
        if kind == "train":
            args = plan.train_args(run)
            imgsz, epochs = int(args["imgsz"]), int(args["epochs"])
            train_img = per_image(cal, "train_s_per_image", run.scale, imgsz)
            eval_img = per_image(cal, "eval_s_per_image", run.scale, imgsz)
            vals = epochs if args.get("val", True) else 1  # val: false validates the final epoch only
            if images is None or train_img is None or eval_img is None:
                return seconds, False, disk, weights
            seconds += _scaled(cal, epochs * images[0] * train_img, res["cpus"], res["gpus"], train=True)
            seconds += _scaled(cal, vals * images[1] * eval_img, res["cpus"], 1)  # validation runs on one device
            if params:  # last.pt and best.pt, stripped to fp16 weights at the end of training
                weights = 2 * params * cal.get("weights_bytes_per_param", 2)
        else:
            eval_img = per_image(cal, "eval_s_per_image", run.scale, plan.eval_imgsz(run))
            if images is None or eval_img is None:
                return seconds, False, disk, weights
            seconds += _scaled(cal, images[1] * eval_img, res["cpus"], res["gpus"])
    elif kind == "complexity":
        # a session counts every architecture of its scale in one process: the fixed part once, then per model
        per_model = (cal.get("complexity_s_per_model") or {}).get(run.scale)
        if per_model is None:
            exact = False
        else:
            seconds += len(plan.identity(kind, run_dir)["cells"]) * per_model
    elif kind == "latency":
        lat = plan.config["latency"]
        t = per_image(cal, "infer_s_per_image", run.scale, lat["imgsz"])
        # a session times every architecture of its scale, each on every device, precision and its runtimes
        cells = session_cells(plan.identity(kind, run_dir), lat)
        same_device = all(d.startswith("cuda") == on_device for d in lat["devices"])
        if t is None or not same_device:
            t, exact = 0.0, False  # the floors (warmup_s, min_s) still hold
        t = t * lat["batch"] * cal.get("threads", 1) / lat["threads"] if not on_device else t * lat["batch"]
        # a session: every cell in each of `processes` fresh interpreters (yolov12.latency.session), one after the
        # other; each process starts (session_s.startup) and, per cell, builds and checks its model
        # (session_s.per_cell) before its warm-up and timed phase. The job's own start is its overhead_s.
        session = cal.get("session_s") or {}
        if set(session) != {"startup", "per_cell"}:
            exact = False  # not calibrated: the start-ups and per-cell parts are left out (a lower bound)
        procs = int(lat.get("processes", 3))
        per_cell = max(lat["warmup_iters"] * t, lat["warmup_s"]) + max(lat["min_iters"] * t, lat["min_s"])
        seconds += procs * (session.get("startup", 0.0) + cells * (per_cell + session.get("per_cell", 0.0)))
    elif kind == "export":
        ident = plan.identity(kind, run_dir)
        files = max(1, len(ident.get("artifacts") or ()))
        if params:
            weights = files * 4 * params  # each exported file, fp32 weights (an fp16 file is smaller: an upper bound)
        if ident.get("trained"):  # each file scored beside eager on the validation split, at the export's size
            images = _images(plan, run.task)
            eval_img = per_image(cal, "eval_s_per_image", run.scale, int(ident["imgsz"]))
            if images is None or eval_img is None:
                exact = False
            else:
                seconds += _scaled(cal, (1 + files) * images[1] * eval_img, res["cpus"], res["gpus"])
    return seconds, exact, disk, weights


def jobs(plan: Plan, cal: dict[str, Any]) -> list[Job]:
    """Every job of the workflow with its cost and the jobs it waits for (the Snakefile's DAG, rebuilt)."""
    out: list[Job] = []

    def extra(kind: str, name: str, after: tuple[str, ...], disk: float = 0.0) -> Job:
        overhead = _overhead(cal, kind)
        job = Job(kind, name, overhead or 0.0, overhead is not None, 1, 0, 1000, False, after, disk)
        out.append(job)
        return job

    store = extra("mlflow_store", plan.name, ())
    tasks = sorted({plan.groups[d][0].task for d in plan.run_dirs("train") + plan.run_dirs("evaluate")})
    data_ids = {}
    for task in tasks:
        images = _images(plan, task) if plan.config["data"]["kind"] == "synthetic" else None
        s = plan.config["data"]["synthetic"]
        disk = (sum(images) * s["imgsz"] * (s["height"] or s["imgsz"]) * SYNTH_BYTES_PER_PIXEL) if images else 0.0
        data_ids[task] = extra("data", task, (), disk).id
    for kind in JOB_KINDS:
        res = plan.resources(kind)
        for run_dir in plan.run_dirs(kind):
            seconds, exact, disk, weights = job_cost(plan, cal, kind, run_dir)
            after = [store.id, *(f"{k}/{run_dir}" for k in JOB_KINDS[kind].after)]
            if kind in ("train", "evaluate"):
                after.append(data_ids[plan.groups[run_dir][0].task])
            out.append(Job(kind, run_dir, seconds, exact, res["cpus"], res["gpus"], res["mem_mb"],
                           JOB_KINDS[kind].timing, tuple(after), disk, weights))
    work = tuple(j.id for j in out if j.kind in JOB_KINDS)
    agg = extra("aggregate", plan.name, work)
    extra("report", plan.name, (agg.id,))
    return out
