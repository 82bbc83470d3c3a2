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

from ...registry import JOB_KINDS
from .. import kinds
from ..plan import Plan
from .rates import images

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


def _overhead(cal: dict[str, Any], kind: str) -> float | None:
    return (cal.get("overhead_s") or {}).get(kind)


def job_cost(plan: Plan, cal: dict[str, Any], kind: str, run_dir: str) -> tuple[float, bool, float, float]:
    """(seconds, exact, disk bytes, weights bytes) of one job: its kind's fixed part (``overhead_s``) plus what its
    kind's ``cost`` hook predicts (yolov12.workflow.kinds)."""
    run = plan.groups[run_dir][0]
    hooks = kinds.of(kind)
    part = hooks.cost(plan, cal, run, run_dir, plan.resources(kind))
    if part is None:
        return 0.0, False, 0.0, 0.0  # the calibration says nothing about such a job (a GPU's about a CPU job)
    seconds, exact, weights = part
    overhead = _overhead(cal, kind)
    return seconds + (overhead or 0.0), exact and overhead is not None, float(hooks.RESULT_BYTES), weights


def jobs(plan: Plan, cal: dict[str, Any]) -> list[Job]:
    """Every job of the workflow with its cost and the jobs it waits for (the Snakefile's DAG, rebuilt)."""
    out: list[Job] = []

    def extra(kind: str, name: str, after: tuple[str, ...], disk: float = 0.0) -> Job:
        overhead = _overhead(cal, kind)
        job = Job(kind, name, overhead or 0.0, overhead is not None, 1, 0, 1000, False, after, disk)
        out.append(job)
        return job

    store = extra("mlflow_store", plan.name, ())
    # a job reads a task's data when its kind says so (kinds.<kind>.inputs: "data"), as in the Snakefile's DAG
    reads_data = {(k, d): plan.groups[d][0].task for k in JOB_KINDS for d in plan.run_dirs(k)
                  if "data" in plan.job_inputs(k, d, "")}
    data_ids = {}
    for task in sorted(set(reads_data.values())):
        counts = images(plan, task) if plan.config["data"]["kind"] == "synthetic" else None
        s = plan.config["data"]["synthetic"]
        disk = (sum(counts) * s["imgsz"] * (s["height"] or s["imgsz"]) * SYNTH_BYTES_PER_PIXEL) if counts else 0.0
        data_ids[task] = extra("data", task, (), disk).id
    for kind in JOB_KINDS:
        res = plan.resources(kind)
        for run_dir in plan.run_dirs(kind):
            seconds, exact, disk, weights = job_cost(plan, cal, kind, run_dir)
            after = [store.id, *(f"{k}/{run_dir}" for k in JOB_KINDS[kind].after)]
            if (kind, run_dir) in reads_data:
                after.append(data_ids[reads_data[kind, run_dir]])
            out.append(Job(kind, run_dir, seconds, exact, res["cpus"], res["gpus"], res["mem_mb"],
                           JOB_KINDS[kind].timing, tuple(after), disk, weights))
    work = tuple(j.id for j in out if j.kind in JOB_KINDS)
    agg = extra("aggregate", plan.name, work)
    extra("report", plan.name, (agg.id,))
    return out
