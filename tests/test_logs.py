"""Diagnostics through logging: importing the package configures nothing; the command line's --quiet / --verbose
choose what reaches stderr, and stdout stays the command's product."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYNTH = ["data", "synth", "--task", "detect", "--n-train", "2", "--n-val", "2", "--imgsz", "64", "--nc", "2"]


def yolov12(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(cwd / "cache"), "YOLOV12_NODE_LOCKS": str(cwd / "node")}
    return subprocess.run([sys.executable, "-m", "yolov12", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_importing_the_package_configures_no_logging():
    code = """
import json, logging
import yolov12, yolov12.cli, yolov12.registry, yolov12.data.synth, yolov12.data.check, yolov12.workflow.runlock
root, ours = logging.getLogger(), logging.getLogger("yolov12")
print(json.dumps({"root_handlers": len(root.handlers), "root_level": root.level,
                  "ours": [type(h).__name__ for h in ours.handlers], "ours_level": ours.level,
                  "ours_propagate": ours.propagate}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    state = json.loads(proc.stdout)
    assert state == {"root_handlers": 0, "root_level": 30, "ours": ["NullHandler"], "ours_level": 0,
                     "ours_propagate": True}


@pytest.mark.parametrize(("flags", "progress", "debug"), [((), True, False), (("--quiet",), False, False),
                                                        (("-q",), False, False), (("--verbose",), True, True)],
                         ids=["default", "quiet", "q", "verbose"])
def test_cli_levels_choose_the_diagnostics_on_stderr(tmp_path, flags, progress, debug):
    out = tmp_path / "set"
    proc = yolov12(*flags, *SYNTH, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"wrote {out / 'data.yaml'}\n"  # the product, whatever the level
    assert ("synth detect train: 2/2 images" in proc.stderr) == progress
    assert ("debug: yolov12 " in proc.stderr) == debug


def test_quiet_keeps_warnings(tmp_path):
    out = tmp_path / "set"
    assert yolov12(*SYNTH, "--out", str(out), cwd=tmp_path).returncode == 0
    image = sorted((out / "images" / "train").glob("*.png"))[0]
    image.write_bytes(b"not an image at all")
    proc = yolov12("--quiet", "data", "check", "--data", str(out / "data.yaml"), "--task", "detect", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"warning: skipped corrupt image {image}: not an image" in proc.stderr
    # stdout holds the report (after Ultralytics' own logger's lines, which it prints there) and no warning of ours
    lines = proc.stdout.splitlines()
    report = "\n".join(lines[lines.index("{"):])
    assert json.loads(report)["corrupt"] and "skipped" not in proc.stdout


def test_quiet_and_verbose_exclude_each_other(tmp_path):
    proc = yolov12("--quiet", "--verbose", "models", cwd=tmp_path)
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr
