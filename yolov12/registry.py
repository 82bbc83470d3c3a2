"""The suite's lists, each defined once: scales, tasks, families, hierarchies, precisions, job kinds, runtimes.

A task is one row of ``TASK_TABLE`` (its Ultralytics classes, definition suffix, paper class count, headline metric
and report columns, label format, real dataset); the plan, the data tools, the evaluation and the report read the
row instead of branching on task names.

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
FAMILIES = ("yolov12", "yolov12-turbo")
HIERARCHIES = ("full", "plain", "s1", "s4")
PRECISIONS = ("fp32", "fp16", "bf16")


# ------------------------------------------------------------------------------------------------ tasks
def _resolve(ref: str) -> Any:
    """The object a lazy ``"module:attr"`` reference names (imports the module only now)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclasses.dataclass(frozen=True)
class RealData:
    """A real dataset the plan trains on: where it is prepared and what its data rule leaves there."""

    name: str
    root_key: str  # the config's data.<root_key> names the user's copy
    manifest: str  # the file its data rule writes (the workflow's target for the dataset)
    data: str  # what Ultralytics trains on, relative to the prepared folder ("{task}" filled in; "" = the folder)
    in_place: bool = False  # prepared in the user's folder itself (else under <results>/data/<name>)
    folders: tuple[str, ...] = ()  # image / label folders whose counts identify it
    images: tuple[int, int] | None = None  # (train, val) images of the official split; None: the user's split


REAL_DATA: dict[str, RealData] = {d.name: d for d in (
    RealData("coco", "coco_root", "coco.json", "coco-{task}.yaml", folders=("train2017", "val2017"),
             images=(118_287, 5_000)),
    RealData("imagenet", "imagenet_root", "imagenet.json", "", folders=("train", "val"), images=(1_281_167, 50_000)),
    RealData("dota", "dota_root", "dota.yaml", "dota.yaml", in_place=True,
             folders=tuple(f"{d}/{s}" for d in ("images", "labels") for s in ("train", "val"))),
)}

# the YOLO label row of each label format (yolov12.data.check reads them, yolov12.data.synth writes them); a task
# without a label format is classification: one folder of images per class, no label files
LABEL_FORMATS = ("box", "polygon", "corners", "keypoints")


@dataclasses.dataclass(frozen=True)
class Task:
    """One task of the suite: everything that differs between tasks outside the code that is truly task-specific.

    ``model`` and ``validator`` are the classes of Ultralytics' own task map (``YOLO(...).task_map``), as lazy
    ``"module:attr"`` references so that this module stays torch-free; ``trainer`` is Ultralytics' trainer with
    the suite's mixin (yolov12.workflow.trainers). tests/test_tasks.py checks them against Ultralytics' map.
    """

    name: str
    suffix: str  # definition file suffix: yolov12<suffix>.yaml
    # the class count of the paper's dataset (COCO 80, COCO-pose 1, ImageNet 1000, DOTA v1 15): architecture
    # measurements use it whatever data a config trains on, so params / FLOPs / latency line up with the paper's
    paper_nc: int
    model: str
    trainer: str
    validator: str
    # the report's accuracy columns (eval.json / accuracy.csv key, label); the first is the headline metric, the
    # one deltas.csv bootstraps and the study figures plot
    metrics: tuple[tuple[str, str], ...]
    iou_types: tuple[str, ...]  # COCO-toolkit scores of evaluate(); the last is the headline's (none: no interval)
    label_format: str | None  # one of LABEL_FORMATS; None: classification (class folders, no label files)
    real_data: str  # the REAL_DATA the plan trains on when data.kind is real
    coco_annotations: str | None = None  # COCO's annotation file stem for this task (instances, person_keypoints)
    # the training-curve columns Ultralytics logs for the task: loss keys (train/<key>, val/<key>) and the markers
    # of its metric names (metrics/...(B), ...)
    losses: tuple[str, ...] = ("box_loss", "cls_loss", "dfl_loss")
    metric_marks: tuple[str, ...] = ("(B)",)

    @property
    def headline(self) -> str:
        return self.metrics[0][0]

    @property
    def headline_iou_type(self) -> str | None:
        return self.iou_types[-1] if self.iou_types else None

    @property
    def resamplable(self) -> bool:
        """Per-image results a bootstrap can resample: COCO-toolkit scores, or classification's top-1 hits."""
        return bool(self.iou_types) or self.classification

    @property
    def keypoints(self) -> bool:
        """Keypoint labels: one class (the keypoint layout is the class's), kpt_shape in the data YAML."""
        return self.label_format == "keypoints"

    @property
    def classification(self) -> bool:
        """Whole-image classes: a dataset folder of one folder per class (no labels, no data YAML, no COCO ground
        truth), scored by top-1 / top-5 hits per image."""
        return self.label_format is None

    @property
    def rotated(self) -> bool:
        """Rotated boxes (corner labels): Ultralytics' rotated NMS and mAP, which the COCO toolkit cannot score."""
        return self.label_format == "corners"

    def resolve(self, field: str) -> Any:
        """The class a reference field names (model, trainer, validator); imports torch / Ultralytics."""
        return _resolve(getattr(self, field))


_UT = "ultralytics.nn.tasks"
_UY = "ultralytics.models.yolo"
_SUITE = "yolov12.workflow.trainers"
TASK_TABLE: dict[str, Task] = {t.name: t for t in (
    Task("detect", "", 80, f"{_UT}:DetectionModel", f"{_SUITE}:SuiteDetectionTrainer",
         f"{_UY}.detect:DetectionValidator", (("AP", "box AP50:95"), ("AP50", "box AP50")), ("bbox",),
         "box", "coco", coco_annotations="instances"),
    Task("segment", "-seg", 80, f"{_UT}:SegmentationModel", f"{_SUITE}:SuiteSegmentationTrainer",
         f"{_UY}.segment:SegmentationValidator", (("mask_AP", "mask AP50:95"), ("AP", "box AP50:95")),
         ("bbox", "segm"), "polygon", "coco", coco_annotations="instances",
         losses=("box_loss", "seg_loss", "cls_loss", "dfl_loss"), metric_marks=("(B)", "(M)")),
    Task("pose", "-pose", 1, f"{_UT}:PoseModel", f"{_SUITE}:SuitePoseTrainer", f"{_UY}.pose:PoseValidator",
         (("kpt_AP", "pose AP50:95"), ("AP", "box AP50:95")), ("bbox", "keypoints"), "keypoints", "coco",
         coco_annotations="person_keypoints", losses=("box_loss", "pose_loss", "kobj_loss", "cls_loss", "dfl_loss"),
         metric_marks=("(B)", "(P)")),
    Task("classify", "-cls", 1000, f"{_UT}:ClassificationModel", f"{_SUITE}:SuiteClassificationTrainer",
         f"{_UY}.classify:ClassificationValidator", (("top1", "top-1"), ("top5", "top-5")), (), None, "imagenet",
         losses=("loss",), metric_marks=("accuracy",)),
    Task("obb", "-obb", 15, f"{_UT}:OBBModel", f"{_SUITE}:SuiteOBBTrainer", f"{_UY}.obb:OBBValidator",
         (("obb_mAP50_95", "OBB mAP50:95"), ("obb_mAP50", "OBB mAP50")), (), "corners", "dota",
         losses=("box_loss", "cls_loss", "dfl_loss", "angle_loss")),
)}
# views of the table under their old names: task -> definition suffix, task -> the paper's class count
TASKS = {name: t.suffix for name, t in TASK_TABLE.items()}
PAPER_NC = {name: t.paper_nc for name, t in TASK_TABLE.items()}


def task(name: str) -> Task:
    """The row of a task; an unknown name is refused naming the allowed ones."""
    if name not in TASK_TABLE:
        raise ValueError(f"task {name!r} is not known; allowed values: {list(TASK_TABLE)}")
    return TASK_TABLE[name]


def register_task(row: Task) -> None:
    """Add (or replace) a task row in this process; the views above follow. A task's definition files
    (models/cfg/yolov12<suffix>.yaml) and, for a new label format, its reader and writer are its own code."""
    if row.label_format is not None and row.label_format not in LABEL_FORMATS:
        raise ValueError(f"label format {row.label_format!r} is not known; allowed values: {list(LABEL_FORMATS)}")
    if row.real_data not in REAL_DATA:
        raise ValueError(f"real dataset {row.real_data!r} is not known; allowed values: {list(REAL_DATA)}")
    TASK_TABLE[row.name] = row
    TASKS[row.name] = row.suffix
    PAPER_NC[row.name] = row.paper_nc


def unregister_task(name: str) -> None:
    for table in (TASK_TABLE, TASKS, PAPER_NC):
        table.pop(name, None)


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
    # the module the plan, the checks and the cost model ask about this kind (its identity, inputs, the sizes its
    # model sees, its cost): yolov12/workflow/kinds/<name>.py unless named here (a kind added from outside)
    hooks: str = ""
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
        return _resolve(self.runner)

    @property
    def hooks_module(self) -> str:
        return self.hooks or f"yolov12.workflow.kinds.{self.name}"


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
    return _resolve(builder) if isinstance(builder, str) else builder
