"""A training asked to stop (SIGTERM) finishes its epoch, keeps that epoch's checkpoint, records why it stopped and
exits 143; the rerun resumes from that checkpoint with every epoch once. (The abandoned-epoch path, under SLURM's
scancel and time limit: tests/test_slurm_workflow.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from test_train_job import job, make_specs

# the real train job, with one SIGTERM sent to itself after the first batch of epoch 1 (as scancel would)
SIGTERM_IN_EPOCH_1 = """\
import os, signal, sys
from yolov12.workflow import guard
init = guard.SuiteTrainerMixin.__init__
def patched(self, *args, **kwargs):
    init(self, *args, **kwargs)
    sent = []
    def once(trainer):
        if trainer.epoch == 0 and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)
    self.add_callback("on_train_batch_end", once)
guard.SuiteTrainerMixin.__init__ = patched
from yolov12.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigterm_finishes_the_epoch_records_why_and_the_rerun_resumes(tmp_path):
    specs, _ = make_specs(tmp_path, epochs=2)
    spec, out = specs["base"]
    run_dir = tmp_path / json.loads(spec)["run_dir"]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "YOLOV12_NODE_LOCKS": str(tmp_path / "node"),
           "YOLOV12_STOP_GRACE_S": "600"}  # long enough for the epoch to finish on a busy machine
    proc = subprocess.run([sys.executable, "-c", SIGTERM_IN_EPOCH_1, "workflow", "run", "train", "--spec", spec,
                           "--out", out], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "stopping after this epoch's checkpoint" in proc.stdout
    assert not (tmp_path / out).exists()
    assert _epochs(run_dir) == [1]  # epoch 1 finished and was checkpointed before the stop
    attempts = json.loads((run_dir / "attempts.json").read_text())
    assert len(attempts) == 1 and attempts[0]["outcome"] == "stopped", attempts
    assert attempts[0]["reason"] == "terminated" and attempts[0]["epoch_abandoned"] is False, attempts
    rerun = job(tmp_path, spec, out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = rerun.communicate(timeout=900)[0]
    assert rerun.returncode == 0, log[-3000:]
    assert _epochs(run_dir) == [1, 2]  # each epoch once
    attempts = json.loads((run_dir / "attempts.json").read_text())
    assert [a["outcome"] for a in attempts] == ["stopped", "ok"] and attempts[1]["resumed_epoch"] == 1, attempts
    assert json.loads((tmp_path / out).read_text())["attempts"] == 2


def _epochs(run_dir) -> list[int]:
    frame = pd.read_csv(run_dir / "train" / "results.csv")
    frame.columns = [c.strip() for c in frame.columns]
    return [int(e) for e in frame["epoch"]]
