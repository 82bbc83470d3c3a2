"""The suite's trainer classes, one per task: Ultralytics' own, with ``SuiteTrainerMixin`` (yolov12.workflow.guard).
The task table (yolov12.registry.TASK_TABLE) names each task's class here.

Module-level classes on purpose: Ultralytics' DDP launcher pickles the trainer class for its worker processes, which
import it from here (and, through ``yolov12.nn``, register our modules before they parse the model definition).
"""

from __future__ import annotations

from ultralytics.models.yolo.classify import ClassificationTrainer
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.models.yolo.obb import OBBTrainer
from ultralytics.models.yolo.pose import PoseTrainer
from ultralytics.models.yolo.segment import SegmentationTrainer

from ..nn.blocks import register
from .guard import SuiteTrainerMixin

register()


class SuiteDetectionTrainer(SuiteTrainerMixin, DetectionTrainer):
    pass


class SuiteSegmentationTrainer(SuiteTrainerMixin, SegmentationTrainer):
    pass


class SuitePoseTrainer(SuiteTrainerMixin, PoseTrainer):
    pass


class SuiteClassificationTrainer(SuiteTrainerMixin, ClassificationTrainer):
    pass


class SuiteOBBTrainer(SuiteTrainerMixin, OBBTrainer):
    pass

