"""Shared test fixtures. Tests run the real models on small inputs; GPU tests skip without CUDA."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import yolov12  # noqa: F401  (offline defaults + parser integration)

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"  # development copy of the paper tables; tests skip without it


def pytest_collection_modifyitems(config, items):
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def python_env(tmp_path):
    """Environment for a fresh Python process: isolated caches, this interpreter's site-packages."""
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env.pop("YOLO_CONFIG_DIR", None)
    env["PYTHONPATH"] = str(ROOT)
    return env, sys.executable
