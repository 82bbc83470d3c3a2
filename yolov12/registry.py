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


SCOPES = ("training", "architecture", "session")  # JobKind.scope


@dataclasses.dataclass(frozen=True)
class JobKind:
    """One kind of workflow job, run once per run directory that needs it."""

    name: str
    result: str  # result file in the run directory
    runner: str  # "module:function" taking (spec, out) -> result dict
    after: tuple[str, ...] = ()  # kinds whose results (same run directory) it reads
    timing: bool = False  # measures time: runs alone on its node (yolov12.workflow.node)
    # how many jobs of this kind a plan has, and so which folder holds a result (SCOPES):
    #   "training"      one per training (each recipe and seed), in the training's folder (run_dir)
    #   "architecture"  one per architecture, the same for every recipe and seed, in its folder (model_dir)
    #   "session"       one per scale, measuring every architecture of the plan at that scale in ONE process tree,
    #                   in a session folder runs/<session_prefix>-<scale>-<digest>/ (Run.session_dirs); its result
    #                   holds one record per architecture (keyed by model_dir). Timing sessions interleave their
    #                   cells so that every comparison at a scale is paired; a complexity session pays the process
    #                   start and imports once instead of once per architecture
    scope: str = "training"
    session_prefix: str = ""  # a session kind's folder prefix ("timing", "complexity")
    # what one job uses unless the config's resources.<kind> says otherwise (runtime in minutes)
    resources: dict[str, int] = dataclasses.field(default_factory=lambda: {
        "gpus": 0, "cpus": 1, "mem_mb": 4000, "runtime": 60, "retries": 0})

    def __post_init__(self):
        if self.scope not in SCOPES or (self.scope == "session") != bool(self.session_prefix):
            raise ValueError(f"job kind {self.name}: scope {self.scope!r} (one of {SCOPES}; a session kind, and only "
                             "it, names its folder prefix)")

    @property
    def per_training(self) -> bool:
        return self.scope == "training"

    @property
    def session(self) -> bool:
        return self.scope == "session"

    def load_runner(self) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        module, _, attr = self.runner.partition(":")
        return getattr(importlib.import_module(module), attr)


JOB_KINDS: dict[str, JobKind] = {k.name: k for k in (
    JobKind("train", "train.json", "yolov12.workflow.train:run_train",
            resources={"gpus": 0, "cpus": 1, "mem_mb": 6000, "runtime": 240, "retries": 2}),
    JobKind("evaluate", "eval.json", "yolov12.workflow.jobs:run_evaluate", after=("train",)),
    JobKind("complexity", "complexity.json", "yolov12.workflow.complexity_job:run_complexity", scope="session",
            session_prefix="complexity"),
    JobKind("latency", "latency.json", "yolov12.workflow.latency_job:run_latency", timing=True, scope="session",
            session_prefix="timing"),
    JobKind("export", "export.json", "yolov12.workflow.jobs:run_export", scope="architecture"),
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
