"""The standing bad-input battery for workflow configs, study files, the command line and the Python API (datasets,
images, labels, checkpoints and `yolov12 val` are in test_bad_input_data.py).

Each case runs the real thing (a `snakemake` dry run, `python -m yolov12 ...`, the API) and asserts: exit status 2
(or the UserError), ONE `error:` line naming the offending file and key, no traceback, and no output written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
GOOD_STUDY = {"study": "mine", "table": "T", "title": "t", "variants": {"base": {}, "k3": {"knobs": {"pe_kernel": 3}}}}


def base_config(tmp: Path) -> dict:
    return {"name": "bad", "scales": ["n"], "studies": ["mine"], "ablations_dir": str(tmp / "studies"),
            "train": {"epochs": 1, "imgsz": 64, "batch": 2, "recipe": {"nbs": 2}},
            "latency": {"imgsz": 64}, "complexity": {"imgsz": 64}, "export": {"imgsz": 64}}


def set_key(cfg: dict, dotted: str, value) -> dict:
    node = cfg
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return cfg


# (id, change to the config, key the message must name, a word the message must hold)
CONFIG_CASES = [
    ("train-key-typo", lambda c: set_key(c, "train.epoch", 3), "train.epoch", "unknown key"),
    ("top-key-typo", lambda c: set_key(c, "scale", ["n"]), "scale", "unknown key"),
    ("empty-scales", lambda c: set_key(c, "scales", []), "scales", "must not be empty"),
    ("empty-studies", lambda c: set_key(c, "studies", []), "studies", "must not be empty"),
    ("study-twice", lambda c: set_key(c, "studies", ["mine", "mine"]), "studies", "listed twice"),
    ("unknown-study", lambda c: set_key(c, "studies", ["nosuch"]), "studies", "unknown study"),
    ("unknown-scale", lambda c: set_key(c, "scales", ["q"]), "scales.0", "not allowed"),
    ("scale-twice", lambda c: set_key(c, "scales", ["n", "n"]), "scales", "listed twice"),
    ("no-ablations-dir", lambda c: set_key(c, "ablations_dir", "/nonexistent/studies"), "ablations_dir",
     "does not exist"),
    ("no-name", lambda c: c.pop("name") and c, "name", "needs a name"),
    ("bad-name", lambda c: set_key(c, "name", "a/b"), "name", "does not match"),
    ("recipe-typo", lambda c: set_key(c, "train.recipe.nbss", 64), "train.recipe.nbss", "did you mean nbs"),
    ("recipe-sets-device", lambda c: set_key(c, "train.recipe.device", "0"), "train.recipe.device",
     "set by the suite"),
    ("per-scale-unknown-scale", lambda c: set_key(c, "train.per_scale.q", {"scale": 0.5}), "train.per_scale.q",
     "unknown key"),
    ("per-scale-bad-arg", lambda c: set_key(c, "train.per_scale.n", {"mixupp": 0.1}), "train.per_scale.n.mixupp",
     "not an Ultralytics train argument"),
    ("per-task-unknown-task", lambda c: set_key(c, "train.per_task.segmnt", {}), "train.per_task.segmnt",
     "unknown key"),
    ("negative-seed", lambda c: set_key(c, "seeds", [-1]), "seeds.0", ""),
    ("seed-twice", lambda c: set_key(c, "seeds", [0, 0]), "seeds", "listed twice"),
    ("resources-typo", lambda c: set_key(c, "resources.train", {"gpu": 1}), "resources.train.gpu", "unknown key"),
    ("resources-unknown-kind", lambda c: set_key(c, "resources.trian", {"gpus": 1}), "resources.trian",
     "unknown key"),
    ("negative-gpus", lambda c: set_key(c, "resources.train", {"gpus": -1}), "resources.train.gpus", ""),
    ("unknown-runtime", lambda c: set_key(c, "latency.runtimes", ["tensorrtt"]), "latency.runtimes.0",
     "not allowed"),
    ("bad-device", lambda c: set_key(c, "latency.devices", ["gpu0"]), "latency.devices.0", ""),
    ("bad-precision", lambda c: set_key(c, "latency.precisions", ["fp8"]), "latency.precisions.0", "not allowed"),
    ("eval-precision", lambda c: set_key(c, "evaluate.precision", "int8"), "evaluate.precision", "not allowed"),
    ("imgsz-text", lambda c: set_key(c, "train.imgsz", "big"), "train.imgsz", "wrong type"),
    ("imgsz-tiny", lambda c: set_key(c, "train.imgsz", 16), "train.imgsz", ""),
    ("imgsz-not-stride", lambda c: set_key(c, "latency.imgsz", 70), "latency", "max stride"),
    ("batch-zero", lambda c: set_key(c, "train.batch", 0), "train.batch", ""),
    ("bootstrap-level", lambda c: set_key(c, "bootstrap.level", 1.5), "bootstrap.level", ""),
]

# (id, the study file, key, word)
STUDY_CASES = [
    ("area-5", {**GOOD_STUDY, "variants": {"a": {"knobs": {"area": 5}}}}, "area", "does not divide"),
    ("unknown-knob", {**GOOD_STUDY, "variants": {"a": {"knobs": {"areaa": 2}}}}, "variants.a.knobs", "unknown knob"),
    ("bad-knob-value", {**GOOD_STUDY, "variants": {"a": {"knobs": {"pe_kernel": 4}}}}, "variants.a.knobs",
     "pe_kernel"),
    ("head-dim", {**GOOD_STUDY, "variants": {"a": {"knobs": {"head_dim": 48}}}}, "variants.a", "head"),
    ("name-not-file", {**GOOD_STUDY, "study": "other"}, "study", "must equal the file name"),
    ("variant-key-typo", {**GOOD_STUDY, "variants": {"a": {"knob": {"area": 1}}}}, "variants.a.knob", "unknown key"),
    ("train-override", {**GOOD_STUDY, "variants": {"a": {"train": {"lr00": 0.1}}}}, "variants.a.train.lr00",
     "not an Ultralytics train argument"),
    ("no-variants", {**GOOD_STUDY, "variants": {}}, "variants", "must not be empty"),
    ("empty-study-scales", {**GOOD_STUDY, "scales": []}, "scales", "must not be empty"),
    ("unknown-measure", {**GOOD_STUDY, "measure": ["train", "benchmark"]}, "measure.1", "not allowed"),
    ("bad-task", {**GOOD_STUDY, "task": "depth"}, "task", "not allowed"),
    ("missing-title", {k: v for k, v in GOOD_STUDY.items() if k != "title"}, "<top>", "title"),
]


def dry_run(tmp: Path, cfg: dict | str, study: dict | str | None = GOOD_STUDY) -> subprocess.CompletedProcess:
    folder = tmp / "studies"
    folder.mkdir(exist_ok=True)
    if study is not None:
        (folder / "mine.yaml").write_text(study if isinstance(study, str) else yaml.safe_dump(study))
    path = tmp / "config.yaml"
    path.write_text(cfg if isinstance(cfg, str) else yaml.safe_dump(cfg))
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")}
    return subprocess.run([*SNAKEMAKE, "--directory", str(work), "--configfile", str(path), "-n", "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env)


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr[-2000:]
    lines = [line for line in stderr.strip().splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr[-2000:]
    return lines[0]


def nothing_written(folder: Path) -> None:
    written = [p for p in folder.rglob("*") if p.is_file() and ".snakemake" not in p.parts]
    assert written == [], written


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_stops_the_dry_run(tmp_path, case):
    _, change, key, word = case
    proc = dry_run(tmp_path, change(base_config(tmp_path)))
    assert proc.returncode == 2, proc.stdout[-1500:] + proc.stderr[-2500:]
    line = one_error_line(proc.stderr)
    where = "/nonexistent/studies" if "ablations" in key else str(tmp_path / "config.yaml")
    assert where in line and key in line and word in line, line
    nothing_written(tmp_path / "work")


@pytest.mark.parametrize("case", STUDY_CASES, ids=[c[0] for c in STUDY_CASES])
def test_bad_study_stops_the_dry_run(tmp_path, case):
    _, study, key, word = case
    proc = dry_run(tmp_path, base_config(tmp_path), study)
    assert proc.returncode == 2, proc.stdout[-1500:] + proc.stderr[-2500:]
    line = one_error_line(proc.stderr)
    assert str(tmp_path / "studies" / "mine.yaml") in line and key in line and word in line, line
    nothing_written(tmp_path / "work")


def test_duplicate_key_in_a_config_file(tmp_path):
    text = yaml.safe_dump(base_config(tmp_path)) + "scales: [s]\n"
    line = one_error_line(dry_run(tmp_path, text).stderr)
    assert line.startswith(f"error: {tmp_path / 'config.yaml'}:") and "'scales' appears twice" in line


def test_duplicate_variant_in_a_study_file(tmp_path):
    text = ("study: mine\ntable: T\ntitle: t\nvariants:\n  a: {knobs: {pe_kernel: 3}}\n"
            "  a: {knobs: {pe_kernel: 5}}\n")
    proc = dry_run(tmp_path, base_config(tmp_path), text)
    line = one_error_line(proc.stderr)
    assert proc.returncode == 2 and f"{tmp_path / 'studies' / 'mine.yaml'}:6: a:" in line and "twice" in line


def test_yaml_syntax_error_in_a_config_file(tmp_path):
    """Snakemake reads --configfile before our parse and refuses broken YAML itself (its message, exit 1, no file
    written); `yolov12 workflow check` reads it as the workflow does and names the file and line."""
    proc = dry_run(tmp_path, "name: bad\nscales: [n\n")
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "not valid JSON or YAML" in text and "Traceback" not in text
    nothing_written(tmp_path / "work")
    check = subprocess.run([sys.executable, "-m", "yolov12", "workflow", "check", str(tmp_path / "config.yaml")],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    line = one_error_line(check.stderr)
    assert check.returncode == 2 and line.startswith(f"error: {tmp_path / 'config.yaml'}:3: not valid YAML"), line


def test_workflow_check_accepts_the_shipped_configs():
    for name in ("default", "paper"):
        proc = subprocess.run([sys.executable, "-m", "yolov12", "workflow", "check",
                               str(ROOT / "workflows" / "config" / f"{name}.yaml"), "--basedir", str(ROOT)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0 and "valid" in proc.stdout, proc.stderr


def test_variant_without_a_run_left_is_refused(tmp_path):
    cfg = set_key(base_config(tmp_path), "scales", ["x"])  # the study runs at N only
    line = one_error_line(dry_run(tmp_path, cfg).stderr)
    assert "no run left" in line and "scales" in line


# ------------------------------------------------------------------------------------------------ command line
CLI_CASES = [
    ("knob-value", ["yaml", "--knob", "pe_kernel=4"], "pe_kernel", "allowed"),
    ("knob-unknown", ["yaml", "--knob", "nosuch=1"], "nosuch", "known knobs"),
    ("knob-no-equals", ["yaml", "--knob", "area"], "--knob", "name=value"),
    ("knob-area-zero", ["yaml", "--knob", "area=0"], "area", "positive"),
    ("yaml-family", ["yaml", "--family", "yolov13"], "--family", "invalid choice"),
    ("summary-imgsz", ["summary", "--scales", "n", "--imgsz", "0"], "--imgsz", "at least 1"),
    ("summary-scale", ["summary", "--scales", "q"], "--scales", "invalid choice"),
    ("variants-folder", ["variants", "--ablations-dir", "/nonexistent/ab"], "/nonexistent/ab", "does not exist"),
    ("variants-study", ["variants", "--studies", "nosuch", "--ablations-dir", str(ROOT / "ablations")],
     "studies", "unknown study"),
    ("workflow-kind", ["workflow", "run", "nosuch", "--spec", "{}", "--out", "o.json"], "kind", "invalid choice"),
    ("workflow-spec", ["workflow", "run", "train", "--spec", "{not json", "--out", "o.json"], "--spec",
     "not a job spec"),
    ("report-results", ["report", "--results", "/nonexistent/results"], "/nonexistent/results", ""),
    ("no-command", [], "command", "required"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_command_line(tmp_path, case):
    _, argv, key, word = case
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "yolov12", *argv], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stdout[-1500:] + proc.stderr[-2500:]
    line = one_error_line(proc.stderr)
    assert key in line and word in line, line
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "cache" not in p.parts]
    assert written == [], written


def test_debug_shows_the_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "yolov12", "--debug", "yaml", "--knob", "pe_kernel=4"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert proc.returncode == 2 and "Traceback" in proc.stderr and proc.stderr.strip().endswith("9]") is False


# ------------------------------------------------------------------------------------------------ Python API
API_CASES = [
    ("build-scale", lambda y: y.build("yolov12", scale="q"), "scale"),
    ("build-family", lambda y: y.build("yolov13", scale="n"), "family"),
    ("build-knob", lambda y: y.build("yolov12", scale="n", pe_kernel=4), "pe_kernel"),
    ("hierarchy-task", lambda y: y.model_yaml("yolov12", "n", "segment", "plain"), "hierarchy"),
    ("nc-zero", lambda y: y.model_yaml("yolov12", "n", nc=0), "nc"),
]


@pytest.mark.parametrize("case", API_CASES, ids=[c[0] for c in API_CASES])
def test_bad_api_call_is_a_user_error(case):
    import yolov12
    from yolov12.errors import UserError

    _, call, key = case
    with pytest.raises(UserError) as e:
        call(yolov12)
    assert key in str(e.value) and "\n" not in str(e.value)


def test_plan_api_names_the_source(tmp_path):
    from yolov12.errors import UserError
    from yolov12.workflow.plan import make_plan

    with pytest.raises(UserError, match=r"^my\.yaml: train\.epoch: unknown key"):
        make_plan({"name": "x", "train": {"epoch": 1}}, "my.yaml", ROOT)
