"""The cost model (yolov12.workflow.cost): the plan's arithmetic on a tiny config with a given calibration, the
plan command without torch, the report's predicted-against-measured table from real benchmark files."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from workflow_helpers import tiny_config, write_tiny
from yolov12.errors import UserError
from yolov12.registry import JOB_KINDS
from yolov12.workflow.cost import calibration
from yolov12.workflow.cost.measured import by_kind, fit_fixed_costs
from yolov12.workflow.cost.model import Job, jobs
from yolov12.workflow.cost.schedule import wall_seconds
from yolov12.workflow.cost.summary import duration, predict
from yolov12.workflow.plan import make_plan

FIXTURES = ROOT / "tests" / "fixtures" / "cost"  # benchmark files of a real default run on a 2-core machine

CAL = {"name": "given", "source": "numbers chosen for the test", "device": "cpu", "threads": 1, "ref_imgsz": 32,
       "train_s_per_image": {"n": 0.01}, "eval_s_per_image": {"n": 0.002}, "infer_s_per_image": {"n": 0.001},
       "complexity_s_per_model": {"n": 0.5}, "session_s": {"startup": 4.0, "per_cell": 1.0},
       "overhead_s": {"train": 10, "evaluate": 3, "complexity": 4, "latency": 5, "export": 6, "data": 1,
                      "mlflow_store": 2, "aggregate": 7, "report": 8},
       "peak_rss_mb": {"train": 900}, "params": {"n": 1000}, "weights_bytes_per_param": 2}


def tiny_plan(tmp_path: Path, **overrides):
    write_tiny(tmp_path)
    return make_plan(tiny_config(tmp_path, **overrides), "tiny.yaml", ROOT)


def test_plan_arithmetic_on_a_tiny_config(tmp_path):
    plan = tiny_plan(tmp_path)
    cfg = plan.config
    all_jobs = {j.id: j for j in jobs(plan, CAL)}
    trains = [j for j in all_jobs.values() if j.kind == "train"]
    assert len(trains) == len(plan.run_dirs("train")) > 0
    # one training by hand: 10 s + epochs x 8 images x 0.01 s x (64/32)^2 + every epoch's validation of 4 images
    base = next(j for j in trains if any(r.variant == "base" for r in plan.groups[j.run_dir]))
    epochs, n_train, n_val = cfg["train"]["epochs"], 8, 4
    scale2 = (cfg["train"]["imgsz"] / 32) ** 2
    assert base.seconds == pytest.approx(10 + epochs * n_train * 0.01 * scale2 + epochs * n_val * 0.002 * scale2)
    assert base.exact and base.weights_bytes == 2 * 1000 * 2
    ev = all_jobs[f"evaluate/{base.run_dir}"]
    assert ev.seconds == pytest.approx(3 + n_val * 0.002 * scale2)
    assert f"train/{base.run_dir}" in ev.after
    # a latency job: the session of its scale, every architecture timed there (one cell each) in each of the
    # session's processes; the floors are 0, so warmup_iters + min_iters inferences at 64 px per cell and process,
    # each process starting its own interpreter and building each cell's model
    lat = next(j for j in all_jobs.values() if j.kind == "latency")
    lc, n_cells = cfg["latency"], len(plan.identity("latency", lat.run_dir)["cells"])
    assert n_cells == len({r.model_dir for r in plan.runs if "latency" in r.measure}) > 1
    per_cell = (lc["warmup_iters"] + lc["min_iters"]) * 0.001 * (lc["imgsz"] / 32) ** 2
    assert lat.exclusive and lat.seconds == pytest.approx(5 + lc["processes"] * (4.0 + n_cells * (per_cell + 1.0)))
    # a complexity job: the session of its scale counts every architecture in one process
    [cx] = [j for j in all_jobs.values() if j.kind == "complexity"]
    n_models = len({r.model_dir for r in plan.runs if "complexity" in r.measure})
    assert len(plan.identity("complexity", cx.run_dir)["cells"]) == n_models > 1
    assert cx.seconds == pytest.approx(4 + n_models * 0.5) and not cx.exclusive

    p = predict(plan, CAL, cores=2, gpus=0)
    assert p["total"]["trainings"] == len(trains)
    assert p["total"]["evaluations"] == len(plan.run_dirs("evaluate"))
    assert p["total"]["timing_sessions"] == len(plan.run_dirs("latency"))
    assert p["total"]["cpu_hours"] == pytest.approx(sum(j.seconds * j.cpus for j in all_jobs.values()) / 3600)
    assert p["kinds"]["train"]["peak_mb"] == 900 and p["kinds"]["evaluate"]["peak_mb"] is None
    # the wall time lies between the critical path and the serial sum
    assert sum(j.seconds for j in all_jobs.values()) / 2 <= p["total"]["wall_s"] <= sum(
        j.seconds for j in all_jobs.values())
    # a study's row counts its runs' jobs: the tiny study has them all
    assert p["studies"]["tiny"]["trainings"] == len(trains)


def test_uncalibrated_parts_make_a_lower_bound(tmp_path):
    plan = tiny_plan(tmp_path)
    cal = {k: v for k, v in CAL.items() if k != "overhead_s"}
    p = predict(plan, cal, cores=2, gpus=0)
    assert not p["total"]["exact"] and not p["kinds"]["train"]["exact"]
    # a calibration without a timing session's or a complexity count's costs: those kinds are lower bounds
    p = predict(plan, {k: v for k, v in CAL.items() if k not in ("session_s", "complexity_s_per_model")}, 2, 0)
    assert p["kinds"]["train"]["exact"] and not p["kinds"]["latency"]["exact"]
    assert not p["kinds"]["complexity"]["exact"]
    gpu_cal = {**CAL, "device": "cuda", "gpus": 8}  # a GPU calibration prices no CPU training
    assert not predict(plan, gpu_cal, cores=2, gpus=8)["kinds"]["train"]["exact"]


def test_schedule_runs_a_timing_job_alone():
    def job(name, seconds, exclusive=False, after=()):
        return Job("latency" if exclusive else "train", name, seconds, True, 1, 0, 1000, exclusive, after)

    assert wall_seconds([job("a", 10), job("b", 10)], cores=2, gpus=0) == 10
    assert wall_seconds([job("a", 10), job("b", 10), job("t", 5, exclusive=True)], cores=2, gpus=0) == 15
    assert wall_seconds([job("a", 10), job("b", 10, after=("train/a",))], cores=2, gpus=0) == 20


def test_bad_calibration_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**CAL, "train_s_per_image": {"q": 1.0}}))
    with pytest.raises(UserError, match=r"bad.yaml: train_s_per_image.q: unknown scale"):
        calibration.load(str(bad))
    bad.write_text(yaml.safe_dump({**CAL, "session_s": {"start": 4.0}}))
    with pytest.raises(UserError, match=r"bad.yaml: session_s.start: unknown part of a timing session"):
        calibration.load(str(bad))
    with pytest.raises(UserError, match="no such calibration"):
        calibration.load("no-such-gpu", ROOT)


def test_plan_command_imports_no_torch(tmp_path):
    """The plan of the paper profile with the shipped A6000 calibration, in a fresh process: no torch, no
    Ultralytics, the table printed."""
    code = ("import sys; from yolov12.cli import main; rc = main(['workflow', 'plan', '--configfile', "
            "'workflows/config/paper.yaml', '--gpu-type', 'a6000x8', '--cores', '64', '--json-out', sys.argv[1]]); "
            "assert rc == 0, rc; bad = {'torch', 'ultralytics'} & set(sys.modules); assert not bad, bad")
    out = tmp_path / "paper.json"
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "wall time on 64 cores, 8 GPUs" in proc.stdout
    p = json.loads(out.read_text())
    assert p["total"]["trainings"] > 0 and p["total"]["gpu_hours"] > 0 and not p["total"]["exact"]


def _tsv_sum(folder: Path, kind: str, column: str) -> float:
    total = 0.0
    for path in (folder / kind).glob("*.tsv"):
        with open(path, newline="") as f:
            total += float(list(csv.DictReader(f, delimiter="\t"))[-1][column])
    return total


def test_report_sets_prediction_beside_real_benchmarks(tmp_path):
    from yolov12.report.cost_section import cost_table

    results = tmp_path / "results"
    shutil.copytree(FIXTURES / "benchmarks", results / "benchmarks")
    plan = make_plan(yaml.safe_load((ROOT / "workflows/config/default.yaml").read_text()), "default.yaml", ROOT)
    # the fixture's files carry the job names of the run that made them; a job's name is a digest of its identity,
    # so they are given this plan's names, kind by kind (their measured numbers unchanged, surplus files dropped)
    for kind in JOB_KINDS:
        names = plan.run_dirs(kind)
        for i, f in enumerate(sorted((results / "benchmarks" / kind).glob("*.tsv"))):
            f.replace(f.with_name(f"{names[i]}.tsv.new")) if i < len(names) else f.unlink()
        for f in (results / "benchmarks" / kind).glob("*.tsv.new"):
            f.replace(f.with_suffix(""))
    prediction = predict(plan, CAL, cores=2, gpus=0)
    (results / "cost_predicted.json").write_text(json.dumps(prediction))
    table = cost_table(results)
    rows = {r[0].text: r for r in table.rows}
    measured_kinds = sorted(p.name for p in (results / "benchmarks").iterdir())
    assert measured_kinds
    for kind in measured_kinds:
        files = sorted((results / "benchmarks" / kind).glob("*.tsv"))
        cpu = _tsv_sum(results / "benchmarks", kind, "cpu_time")
        assert rows[kind][3].text == duration(cpu)
        predicted = sum(prediction["jobs"][f"{kind}/{f.stem}"] for f in files)  # the same jobs only
        if kind in JOB_KINDS and JOB_KINDS[kind].timing:  # alone on the node: its wall time, which counts the session
            assert rows[kind][5].text == f"{_tsv_sum(results / 'benchmarks', kind, 's') / predicted:.2f} (wall)"
        else:
            assert rows[kind][5].text == f"{cpu / predicted:.2f}"
    assert rows["report"][3].missing  # predicted, never benchmarked: a dash, not a zero
    assert by_kind(results / "benchmarks")["span_s"] > 0
    # fixed costs fitted from the same files: each kind's CPU time less its per-image part, never below zero
    fixed, peak = fit_fixed_costs(plan, {**CAL, "overhead_s": {}}, results / "benchmarks")
    assert set(fixed) == set(measured_kinds) and min(fixed.values()) >= 0
    for kind in measured_kinds:
        rss = [float(list(csv.DictReader(open(p), delimiter="\t"))[-1]["max_rss"])
               for p in (results / "benchmarks" / kind).glob("*.tsv")]
        assert peak[kind] == pytest.approx(max(rss), abs=1)
    # no prediction at all: the table says why
    (results / "cost_predicted.json").unlink()
    assert any("no cost_predicted.json" in n for n in cost_table(results).notes)


@pytest.mark.slow
@pytest.mark.xdist_group("tiny")
def test_the_workflow_writes_its_prediction_and_the_report_shows_the_gap(tiny_run):
    """The tiny run's cache folder holds no calibration: the prediction file says so, the report prints why, and
    the measured side still comes from the run's own benchmark files (its `snakemake --report` is test_workflow's)."""
    workdir, cfg = tiny_run
    predicted = json.loads((workdir / "results" / "tiny" / "cost_predicted.json").read_text())
    assert predicted["config"] == "tiny" and "--calibrate" in predicted["gap"]
    report = (workdir / "reports" / "tiny" / "report.md").read_text()
    section = report.split("### Predicted against measured cost")[1].split("\n## ")[0]
    assert "Not predicted:" in section and "| train |" in section


PROGRESS = """
import os, sys, types
from yolov12.workflow.progress import ProgressLine, enabled
trainer = types.SimpleNamespace(epoch=0, epochs=3, tloss=types.SimpleNamespace(sum=lambda: 1.25))
line = ProgressLine("yolov12n-detect-full-base")
if enabled():
    line(trainer)
print("done", flush=True)
"""


def _run_on_a_terminal(env_value: str) -> str:
    """Run PROGRESS in a child whose controlling terminal is a fresh pty; return what reached the terminal."""
    import fcntl
    import termios

    master, slave = os.openpty()

    def take_terminal():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    env = {**os.environ, "YOLOV12_PROGRESS_TTY": env_value}
    env.pop("RANK", None)
    proc = subprocess.run([sys.executable, "-c", PROGRESS], preexec_fn=take_terminal, env=env, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(slave,))
    os.close(slave)
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr
    chunks = []
    os.set_blocking(master, False)
    try:
        while True:
            chunks.append(os.read(master, 4096))
    except (BlockingIOError, OSError):
        pass
    os.close(master)
    return b"".join(chunks).decode()


def test_progress_line_reaches_the_terminal_only_when_asked():
    shown = _run_on_a_terminal("1")
    assert "[train yolov12n-detect-full-base] epoch 1/3  loss 1.250  ETA" in shown
    assert _run_on_a_terminal("0") == ""  # the workflow's output was not a terminal: nothing
    # asked, but no terminal at all (a SLURM job, a daemon): the training goes on, nothing is written
    proc = subprocess.run([sys.executable, "-c", PROGRESS], start_new_session=True, cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "YOLOV12_PROGRESS_TTY": "1"})
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr


@pytest.mark.slow
def test_a_real_training_prints_its_epochs_on_the_terminal(tmp_path):
    """A real train job (the tiny study, 2 epochs) whose controlling terminal is a pty: one line per epoch there,
    while its stdout (the log in a workflow) goes elsewhere."""
    import fcntl
    import termios

    from test_train_job import make_specs

    specs, _ = make_specs(tmp_path, epochs=2)
    spec, out = specs["base"]
    master, slave = os.openpty()

    def take_terminal():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "YOLOV12_NODE_LOCKS": str(tmp_path / "node"),
           "YOLOV12_PROGRESS_TTY": "1"}
    proc = subprocess.run([sys.executable, "-m", "yolov12", "workflow", "run", "train", "--spec", spec, "--out", out],
                          cwd=tmp_path, env=env, preexec_fn=take_terminal, pass_fds=(slave,),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    os.close(slave)
    os.set_blocking(master, False)
    shown = b""
    try:
        while chunk := os.read(master, 65536):
            shown += chunk
    except (BlockingIOError, OSError):
        pass
    os.close(master)
    assert proc.returncode == 0, proc.stdout[-3000:]
    lines = [line for line in shown.decode().splitlines() if line.startswith("[train ")]
    assert [line.split("epoch ")[1].split()[0] for line in lines] == ["1/2", "2/2"], shown.decode()[-2000:]
    assert "ETA 0:00" in lines[-1] and "[train " not in proc.stdout
