"""tests/gpu/check.sh itself: its step budgets fit its 7-minute deadline, and its CPU path runs end to end (the
same steps as on a GPU, as tiny CPU smoke tests, with the project's pytest options overridden: no xdist)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "gpu" / "check.sh"  # not under tests/gpu/: conftest skips that folder without CUDA


def _budgets() -> tuple[dict[str, int], dict[str, int]]:
    text = SCRIPT.read_text()
    steps = {m[0]: int(m[1]) for m in re.findall(r"^run_step (\w+) (\d+) ", text, flags=re.M)}
    knobs = {"TOTAL": int(re.search(r"TOTAL=\$\{TOTAL_S:-(\d+)\}", text)[1]),
             "RESERVE": int(re.search(r"^RESERVE=(\d+)", text, flags=re.M)[1])}
    return steps, knobs


def test_step_budgets_fit_seven_minutes_with_the_artifact_and_roofline_steps():
    steps, knobs = _budgets()
    assert len(steps) >= 7, steps
    assert knobs["TOTAL"] <= 7 * 60 - 30  # the wheels' install and the transfers take the rest
    assert {"roofline", "artifact"} <= set(steps)
    assert sum(steps.values()) + knobs["RESERVE"] <= knobs["TOTAL"], (steps, knobs)
    assert "-p no:xdist" in SCRIPT.read_text() and "addopts=''" in SCRIPT.read_text()


@pytest.mark.slow
def test_cpu_path_runs_end_to_end(tmp_path):
    out = tmp_path / "out"
    # the path is what is checked here, not the budgets (test above): a shared CI machine gets 4 times the time
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(out), "STEP_BUDGET_SCALE": "4", "TOTAL_S": "3000"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    proc = subprocess.run(["bash", str(SCRIPT)], env={**env, "CUDA_VISIBLE_DEVICES": ""}, capture_output=True,
                          text=True, timeout=900)
    log = proc.stdout + proc.stderr
    print(log[-3000:])
    assert "device cpu" in log
    assert (out / "check.log").is_file() and (out / "summary.md").is_file(), sorted(p.name for p in out.iterdir())
    assert "no:xdist" in log or (out / "pytest.txt").is_file()
    assert "== env: exit 0" in log  # a short step runs: only what is left of the total skips a step
    summary = (out / "summary.md").read_text()
    assert "## Roofline" in summary and "## fp16 artifact" in summary  # every step's records reach the summary
    assert proc.returncode == 0, log[-4000:]
