"""Shared test fixtures. Tests run the real models on small inputs; GPU tests skip without CUDA."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from yolov12.offline import configure_job_process

configure_job_process()  # the test process works as the suite's own jobs do: offline, private Ultralytics settings
import yolov12.nn  # noqa: E402  (registers our modules with Ultralytics' parser)

yolov12.nn.register()
# fixtures defined once for every module: the real SLURM cluster, the PostgreSQL-backed MLflow server, the local
# tiny workflow run (a session fixture: imported by name into a module it would run once more)
pytest_plugins = ["cluster.slurm", "cluster.postgres", "workflow_helpers"]

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"  # development copy of the paper tables; tests skip without it


def pytest_collection_modifyitems(config, items):
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _runtimes_registered_in_a_test_stay_in_that_test():
    """A test that registers a runtime (the plugin API) must not leak it into the next test of its worker: the
    registry is process-wide, and the schema built from it is cached."""
    from yolov12 import registry
    from yolov12.workflow import schemas

    before = dict(registry._RUNTIMES)
    yield
    if registry._RUNTIMES != before:
        registry._RUNTIMES.clear()
        registry._RUNTIMES.update(before)
        schemas._schema.cache_clear()


@pytest.fixture
def python_env(tmp_path):
    """Environment for a fresh Python process: isolated caches, this interpreter's site-packages."""
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env.pop("YOLO_CONFIG_DIR", None)
    env["PYTHONPATH"] = str(ROOT)
    return env, sys.executable
