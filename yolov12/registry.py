"""The suite's lists, each defined once: scales, tasks, families, hierarchies, precisions, job kinds, runtimes.

Everything else derives from here: the CLI's choices, the workflow's config and study schemas (filled in by
``yolov12.workflow.schemas``), the Snakemake job rules (one loop over ``JOB_KINDS``), the aggregation and the
report's orderings. The architecture knobs are the fields of ``yolov12.nn.knobs.Knobs``.

This module imports nothing heavy (no torch, no Ultralytics): the workflow's parse and ``yolov12 --help`` use it.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable
from typing import Any

SCALES = ("n", "s", "m", "l", "x")
LARGE_SCALES = ("l", "x")  # the parser's L/X rules: block residual on, MLP ratio 1.2
# task -> definition suffix (yolov12-seg.yaml, ...)
TASKS = {"detect": "", "segment": "-seg", "pose": "-pose", "classify": "-cls", "obb": "-obb"}
FAMILIES = ("yolov12", "yolov12-turbo")
HIERARCHIES = ("full", "plain", "s1", "s4")
PRECISIONS = ("fp32", "fp16", "bf16")
# the class counts of the paper's datasets (COCO 80, COCO-pose 1, ImageNet 1000, DOTA v1 15): architecture
# measurements use them whatever data a config trains on, so params / FLOPs / latency line up with the paper's
PAPER_NC = {"detect": 80, "segment": 80, "pose": 1, "classify": 1000, "obb": 15}


@dataclasses.dataclass(frozen=True)
class JobKind:
    """One kind of workflow job, run once per run directory that needs it."""

    name: str
    result: str  # result file in the run directory
    runner: str  # "module:function" taking (spec, out) -> result dict
    after: tuple[str, ...] = ()  # kinds whose results (same run directory) it reads
    timing: bool = False  # measures time: runs alone on its node (yolov12.workflow.node)
    # False: measures the architecture, the same for every recipe and seed (run once, in the architecture's folder)
    per_seed: bool = True
    # True: one job per scale measures every architecture of the plan at that scale together (a timing session:
    # cells interleaved in the same processes, so that every comparison at a scale is paired), in a session folder
    session: bool = False
    # what one job uses unless the config's resources.<kind> says otherwise (runtime in minutes)
    resources: dict[str, int] = dataclasses.field(default_factory=lambda: {
        "gpus": 0, "cpus": 1, "mem_mb": 4000, "runtime": 60, "retries": 0})

    @property
    def folder(self) -> str:
        """Which folder of a run holds this kind's result: the Run (and index row) field naming it."""
        return "run_dir" if self.per_seed else "timing_dir" if self.session else "model_dir"

    def load_runner(self) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        module, _, attr = self.runner.partition(":")
        return getattr(importlib.import_module(module), attr)


JOB_KINDS: dict[str, JobKind] = {k.name: k for k in (
    JobKind("train", "train.json", "yolov12.workflow.train:run_train",
            resources={"gpus": 0, "cpus": 1, "mem_mb": 6000, "runtime": 240, "retries": 2}),
    JobKind("evaluate", "eval.json", "yolov12.workflow.jobs:run_evaluate", after=("train",)),
    JobKind("complexity", "complexity.json", "yolov12.workflow.jobs:run_complexity", per_seed=False),
    JobKind("latency", "latency.json", "yolov12.workflow.latency_job:run_latency", timing=True, per_seed=False,
            session=True),
    JobKind("export", "export.json", "yolov12.workflow.jobs:run_export", per_seed=False),
)}


# ------------------------------------------------------------------------------------------------ runtimes
# name -> "module:builder"; a builder takes (fused fp32 model, yolov12.latency.runtimes.CellContext) and returns a
# Prepared runtime (see yolov12/latency/runtimes.py). Builders are imported only when a cell runs.
_RUNTIMES: dict[str, str | Callable] = {
    "eager": "yolov12.latency.runtimes:build_eager",
    "compile": "yolov12.latency.runtimes:build_compile",
    "cudagraphs": "yolov12.latency.runtimes:build_cudagraphs",
    "onnxruntime": "yolov12.latency.runtimes:build_onnxruntime",
    "tensorrt": "yolov12.latency.runtimes:build_tensorrt",
}
# runtimes that time an exported FILE, with the Ultralytics export format of that file: the workflow derives one
# export job per architecture they time, and the timing session times the very file that job made and scored
# (yolov12.workflow.artifacts, docs/deployment.md). Each list once: the latency matrix says which files exist.
ARTIFACT_RUNTIMES = {"onnxruntime": "onnx", "tensorrt": "engine"}
ENTRY_POINT_GROUP = "yolov12.runtimes"  # a package adds runtimes with [project.entry-points."yolov12.runtimes"]
PLUGINS_ENV = "YOLOV12_PLUGINS"  # comma-separated modules imported for their register_runtime() calls
_plugins_loaded = False


def register_runtime(name: str, builder: str | Callable) -> None:
    """Add a latency runtime: ``builder`` is a callable or a lazy ``"module:function"`` reference.

    Registered in this process, it is a choice of ``yolov12 latency --runtime``; to choose it from a workflow
    config (whose jobs are other processes), publish it as an entry point of group ``yolov12.runtimes`` or name
    its module in ``YOLOV12_PLUGINS``.
    """
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"runtime name {name!r} must be letters, digits, '-' or '_'")
    _RUNTIMES[name] = builder


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _RUNTIMES.setdefault(ep.name, ep.value)  # by reference: nothing is imported until a cell runs
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        importlib.import_module(module)


def runtimes() -> tuple[str, ...]:
    """Every runtime name: built in, from entry points, from ``YOLOV12_PLUGINS``, registered in this process."""
    _load_plugins()
    return tuple(_RUNTIMES)


def runtime_builder(name: str) -> Callable:
    _load_plugins()
    if name not in _RUNTIMES:
        raise ValueError(f"runtime {name!r} is not known; allowed values: {list(_RUNTIMES)}")
    builder = _RUNTIMES[name]
    if isinstance(builder, str):
        module, _, attr = builder.partition(":")
        builder = getattr(importlib.import_module(module), attr)
    return builder
