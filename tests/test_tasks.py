"""The task table (yolov12.registry.TASK_TABLE): every row checked against Ultralytics' own task map, its data
drawn, checked and placed through the row, and a throwaway task that is one row and nothing else."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from workflow_helpers import tiny_config, write_tiny
from yolov12 import registry
from yolov12.registry import LABEL_FORMATS, REAL_DATA, TASK_TABLE, Task

ROOT = Path(__file__).resolve().parents[1]
TINY_SET = dict(n_train=2, n_val=2, imgsz=64, nc=2, max_objects=2, seed=0)


def ultralytics_task_map() -> dict:
    """Ultralytics' own task -> classes map (a property that reads nothing of its model object)."""
    from ultralytics import YOLO

    return YOLO.task_map.fget(None)


@pytest.mark.parametrize("name", list(TASK_TABLE))
def test_row_names_ultralytics_classes_of_its_task(name):
    row, theirs = TASK_TABLE[name], ultralytics_task_map()[name]
    assert row.resolve("model") is theirs["model"]
    assert row.resolve("validator") is theirs["validator"]
    trainer = row.resolve("trainer")  # the suite's: Ultralytics' trainer with the guard mixin
    assert issubclass(trainer, theirs["trainer"]) and trainer is not theirs["trainer"]


@pytest.mark.parametrize("name", list(TASK_TABLE))
def test_row_is_complete_and_consistent(name):
    row = TASK_TABLE[name]
    assert (ROOT / "yolov12" / "models" / "cfg" / f"yolov12{row.suffix}.yaml").is_file() or row.suffix == ""
    assert row.paper_nc >= 1 and row.real_data in REAL_DATA
    assert row.label_format is None or row.label_format in LABEL_FORMATS
    assert row.headline == row.metrics[0][0] and len(row.metrics) >= 2
    assert row.headline_iou_type == (row.iou_types[-1] if row.iou_types else None)
    assert row.losses and row.metric_marks
    assert registry.TASKS[name] == row.suffix and registry.PAPER_NC[name] == row.paper_nc


@pytest.mark.parametrize("name", list(TASK_TABLE))
def test_synthetic_set_of_each_task_passes_the_data_check(tmp_path, name):
    from yolov12.data.check import check_dataset
    from yolov12.data.synth import generate

    manifest = generate(tmp_path / name, task=name, verbose=False, **TINY_SET)
    report = check_dataset(manifest["data"], name)
    assert report.task == name and sum(report.images.values()) == 4
    assert (manifest["coco_gt"] is None) == TASK_TABLE[name].classification


@pytest.mark.parametrize("kind", ["synthetic", "real"])
@pytest.mark.parametrize("name", list(TASK_TABLE))
def test_plan_places_each_task_data_by_its_row(tmp_path, name, kind):
    from yolov12.workflow.placement import data_path
    from yolov12.workflow.plan import make_plan

    data = tiny_config(tmp_path)["data"]
    if kind == "real":
        data = {"kind": "real", "coco_root": "/c", "imagenet_root": "/i", "dota_root": "/d"}
    write_tiny(tmp_path)
    plan = make_plan(tiny_config(tmp_path, data=data), "tiny.yaml", ROOT)
    placed = plan.dataset(name)
    row = TASK_TABLE[name]
    assert data_path(placed["manifest"], name) == placed["data"]  # the jobs' inverse of the plan agrees
    assert placed["data"].endswith(".yaml") != row.classification
    if kind == "real":
        real = REAL_DATA[row.real_data]
        assert placed["manifest"].endswith("/" + real.manifest) and placed["nc"] == row.paper_nc
        ident = plan.dataset_identity(name)
        assert ident["dataset"] == real.name and f"{real.folders[0]}/entries" in ident
        assert (f"annotations/{row.coco_annotations}_val2017.json" in ident) == (real.name == "coco")
    else:
        assert placed["nc"] == (1 if row.keypoints else 2)


@pytest.fixture(params=list(TASK_TABLE))
def throwaway(request):
    """A new task that is one table row: a copy of an existing task's row under another name and headline."""
    template = TASK_TABLE[request.param]
    row = dataclasses.replace(template, name="throwaway", metrics=template.metrics[::-1])
    registry.register_task(row)
    yield row
    registry.unregister_task("throwaway")
    assert "throwaway" not in registry.TASKS


def test_a_new_task_is_one_row(tmp_path, throwaway):
    """Data, its check, model, trainer, report columns and curves, headline metric, COCO scores and plan placement
    of a task added only to the table (its definition and label format are its template's)."""
    from yolov12.data.check import check_dataset
    from yolov12.data.synth import generate
    from yolov12.evaluate import iou_types
    from yolov12.models.build import torch_model
    from yolov12.report.cells import task_metrics
    from yolov12.report.plot_runs import task_keys
    from yolov12.workflow.plan import make_plan
    from yolov12.workflow.train import trainer_class

    manifest = generate(tmp_path / "set", task="throwaway", verbose=False, **TINY_SET)
    assert check_dataset(manifest["data"], "throwaway").task == "throwaway"
    model = torch_model("yolov12", "n", "throwaway", "full", 3)
    assert type(model) is throwaway.resolve("model") and model.yaml["nc"] == 3
    assert trainer_class("throwaway") is throwaway.resolve("trainer")
    assert task_metrics("throwaway") == throwaway.metrics and iou_types("throwaway") == list(throwaway.iou_types)
    columns = [f"train/{loss}" for loss in throwaway.losses] + ["train/not_a_loss", "lr/pg0"]
    assert task_keys("throwaway", columns) == columns[:-2] + ["lr/pg0"]
    write_tiny(tmp_path)
    plan = make_plan(tiny_config(tmp_path), "tiny.yaml", ROOT)
    placed = plan.dataset("throwaway")
    assert placed["manifest"].endswith("/data/throwaway/dataset.json")
    assert placed["data"].endswith("/data/throwaway" if throwaway.classification else "/data/throwaway/data.yaml")


def test_unknown_rows_are_refused():
    with pytest.raises(ValueError, match="label format"):
        registry.register_task(dataclasses.replace(TASK_TABLE["detect"], name="x", label_format="mesh"))
    with pytest.raises(ValueError, match="real dataset"):
        registry.register_task(dataclasses.replace(TASK_TABLE["detect"], name="x", real_data="lvis"))
    with pytest.raises(ValueError, match="allowed values"):
        registry.task("nope")
    assert "x" not in TASK_TABLE and isinstance(TASK_TABLE["detect"], Task)
