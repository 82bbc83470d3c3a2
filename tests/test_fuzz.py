"""Fuzzing the config and study schemas and the command line (issue 20) with hypothesis.

Valid configs and studies are generated, then mutated (wrong types, out-of-range and non-finite numbers, unknown
keys, empty lists, duplicate keys, booleans as names). Property: every input either plans, or is refused with ONE
line naming the file and a key; never another exception, and nothing written outside ``.snakemake/``. The command
line gets the same property: a valid command with one flag made bad exits 2 with one ``error:`` line before any
work. Seeded and bounded for CI (YOLOV12_FUZZ_EXAMPLES, default 60 per property); a few real ``snakemake -n``
runs replay generated inputs through the Snakefile.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import ROOT  # noqa: E402

EXAMPLES = int(os.environ.get("YOLOV12_FUZZ_EXAMPLES", "60"))  # per property; CI keeps the default
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

# ------------------------------------------------------------------------------------------------ generators
imgsz = st.sampled_from([64, 96, 128])
valid_config = st.fixed_dictionaries({
    "name": st.from_regex(r"\A[a-z][a-z0-9_-]{0,8}\Z"),
    "scales": st.just(["n"]),
    "seeds": st.lists(st.integers(0, 5), min_size=1, max_size=2, unique=True),
    "train": st.fixed_dictionaries({
        "epochs": st.integers(1, 3), "imgsz": imgsz, "batch": st.integers(1, 8),
        "max_loss": st.floats(1, 1e4),
        "recipe": st.fixed_dictionaries({}, optional={
            "lr0": st.floats(1e-4, 1.0), "momentum": st.floats(0, 1), "mosaic": st.floats(0, 1),
            "optimizer": st.sampled_from(["SGD", "AdamW", "auto"]), "cos_lr": st.booleans(),
            "close_mosaic": st.integers(0, 5), "nbs": st.integers(1, 64)})}),
    "evaluate": st.fixed_dictionaries({}, optional={
        "conf": st.floats(0, 1), "iou": st.floats(0.01, 1), "max_det": st.integers(1, 300),
        "backend": st.sampled_from(["pycocotools", "faster-coco-eval"])}),
    "bootstrap": st.fixed_dictionaries({}, optional={"n_boot": st.integers(100, 2000),
                                                     "level": st.floats(0.51, 0.99)}),
    "latency": st.fixed_dictionaries({"imgsz": imgsz}, optional={
        "threads": st.integers(1, 4), "warmup_iters": st.integers(0, 5), "min_iters": st.integers(2, 10),
        "min_s": st.floats(0, 5), "warmup_s": st.floats(0, 5)}),
    "complexity": st.fixed_dictionaries({"imgsz": imgsz}),
    "export": st.fixed_dictionaries({"imgsz": imgsz}),
})
valid_study = st.fixed_dictionaries({
    "study": st.just("mine"), "table": st.text(min_size=1, max_size=5), "title": st.text(min_size=1, max_size=5),
    "variants": st.fixed_dictionaries({"base": st.just({})}, optional={
        "k3": st.just({"knobs": {"pe_kernel": 3}}), "a2": st.just({"knobs": {"area": 2}}),
        "short": st.fixed_dictionaries({"train": st.fixed_dictionaries({"epochs_scale": st.floats(0.1, 2)})})}),
})

BAD_VALUES = st.one_of(st.text(max_size=6), st.booleans(), st.none(), st.just([]), st.just({}),
                       st.sampled_from([-1, 0, -0.5, 1e12, 2**70, math.nan, math.inf, -math.inf, 1.5, "../x", "-x"]),
                       st.lists(st.booleans(), max_size=2))
MUTATIONS = st.sampled_from(["value", "unknown_key", "empty_list", "bool_name", "drop"])


def paths(node, prefix=()):
    """Every (path, value) of a nested dict/list."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


def mutate(doc, draw):
    """One mutation at one place of ``doc`` (in place); returns a description."""
    places = [p for p, _ in paths(doc) if p]
    kind = draw(MUTATIONS)
    where = draw(st.sampled_from(places))
    parent = doc
    for part in where[:-1]:
        parent = parent[part]
    last = where[-1]
    if kind == "value":
        parent[last] = draw(BAD_VALUES)
    elif kind == "unknown_key":
        target = parent[last] if isinstance(parent[last], dict) else doc
        target[draw(st.sampled_from(["zzz", "epoch", "Scales", "imgsz ", "true"]))] = 1
    elif kind == "empty_list":
        parent[last] = []
    elif kind == "bool_name":
        parent[last] = [True] if isinstance(parent[last], list) else True
    elif kind == "drop" and isinstance(parent, dict):
        del parent[last]
    return f"{kind} at {'.'.join(map(str, where))}"


@st.composite
def mutated(draw, base):
    doc = copy.deepcopy(draw(base))  # st.just() values are shared between examples: never mutate them
    return doc, mutate(doc, draw)


# ------------------------------------------------------------------------------------------------ the property
def files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() and ".snakemake" not in p.parts}


def plan_or_refuse(config_text: str, study_text: str) -> str:
    """Plan in-process from files (as the Snakefile reads them): 'planned', or the one refusal line. Anything else
    fails the property."""
    from yolov12.errors import UserError
    from yolov12.workflow.plan import make_plan
    from yolov12.yamlio import load_yaml

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "studies").mkdir()
        study_path, config_path = tmp / "studies" / "mine.yaml", tmp / "config.yaml"
        study_path.write_text(study_text)
        config_path.write_text(config_text)
        before = files(tmp)
        old = os.getcwd()
        os.chdir(tmp)
        try:
            config = load_yaml(config_path, "config file")
            if isinstance(config, dict):
                config.setdefault("ablations_dir", str(tmp / "studies"))
            if not isinstance(config, dict):
                return "not a mapping (Snakemake refuses it before us)"
            plan = make_plan(config, str(config_path), tmp)
            for kind in ("train", "evaluate", "latency", "complexity", "export"):
                for d in plan.run_dirs(kind):
                    plan.spec_json(kind, d)
            outcome = "planned"
        except UserError as e:
            line = str(e)
            assert "\n" not in line, line
            assert str(config_path) in line or str(study_path) in line or "environment" in line, line
            assert line.split(": ", 1)[1:], line  # something after the file: the key and what is wrong
            outcome = line
        finally:
            os.chdir(old)
        assert files(tmp) == before, sorted(files(tmp) - before)
        return outcome


def dump(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True)


@seed(20)
@FUZZ
@given(valid_config, valid_study)
def test_valid_inputs_plan(config, study):
    outcome = plan_or_refuse(dump(config), dump(study))
    assert outcome == "planned", outcome


@seed(21)
@FUZZ
@given(mutated(valid_config), valid_study)
def test_mutated_configs_plan_or_are_refused_in_one_line(mutant, study):
    config, what = mutant
    outcome = plan_or_refuse(dump(config), dump(study))
    hypothesis.event("planned" if outcome == "planned" else "refused in one line")


@seed(22)
@FUZZ
@given(valid_config, mutated(valid_study))
def test_mutated_studies_plan_or_are_refused_in_one_line(config, mutant):
    study, what = mutant
    outcome = plan_or_refuse(dump(config), dump(study))
    hypothesis.event("planned" if outcome == "planned" else "refused in one line")


@seed(23)
@FUZZ
@given(valid_config, st.sampled_from(["name", "scales", "train", "seeds", "latency"]))
def test_duplicate_keys_are_refused(config, key):
    text = dump(config) + yaml.safe_dump({key: config.get(key, 1)})
    outcome = plan_or_refuse(text, dump({"study": "mine", "table": "T", "title": "t", "variants": {"base": {}}}))
    assert "twice" in outcome, outcome


# ------------------------------------------------------------------------------------------------ command line
# (a valid command, {flag: values that are all bad for it}): each must stop the command with exit 2 before any work
POSITIVE = ["-1", "0", "nan", "abc", "1.5", ""]
SECONDS = ["-1", "nan", "inf", "abc", "1e9"]
SIZES = ["-1", "0", "16", "100", "abc", "1.5"]
KNOBS = ["area=0", "area=nan", "pe_kernel=4", "nosuch=1", "area"]
COMMANDS = {
    "latency": (["latency", "--scales", "n"], {
        "--batch": POSITIVE, "--imgsz": SIZES, "--threads": POSITIVE, "--warmup-iters": ["-1", "abc", "1.5"],
        "--warmup-s": SECONDS, "--min-iters": ["1", "0", "-1", "abc"], "--min-s": SECONDS,
        "--max-s": ["0", "-1", "nan", "abc"], "--devices": ["cuda:x", "gpu0", "tpu"], "--precision": ["fp8", "FP32"],
        "--runtime": ["onnx", "tensorrtt"], "--scope": ["all"], "--knob": KNOBS, "--out": ["afile"],
        "--json": ["adir"]}),
    "profile": (["profile", "--scales", "n"], {
        "--batch": POSITIVE, "--imgsz": SIZES, "--threads": POSITIVE, "--min-iters": ["0", "-1", "abc"],
        "--min-s": SECONDS, "--devices": ["cuda:x", "gpu0"], "--precision": ["fp8"], "--knob": KNOBS,
        "--json": ["adir"]}),
    "val": (["val", "--model", "missing.pt", "--data", "d.yaml"], {
        "--imgsz": SIZES, "--conf": ["-1", "2", "nan", "abc"], "--iou": ["0", "-1", "2", "nan"],
        "--max-det": POSITIVE, "--batch": POSITIVE, "--backend": ["coco", "x"], "--precision": ["fp8"],
        "--out": ["adir"]}),
    "summary": (["summary", "--scales", "n"], {"--imgsz": POSITIVE, "--nc": POSITIVE, "--knob": KNOBS,
                                               "--family": ["yolov13"], "--task": ["depth"], "--csv": ["adir"]}),
    "yaml": (["yaml"], {"--scale": ["q", "N"], "--nc": POSITIVE, "--knob": KNOBS, "--hierarchy": ["flat"],
                        "--out": ["afile"]}),
    "report": (["report", "--results", "adir"], {"--out": ["afile"], "--provenance": ["missing.json", "afile"]}),
    "synth": (["data", "synth", "--out", "adir/ds"], {"--n-train": ["0", "-1", "abc"], "--imgsz": ["0", "-5", "abc"],
                                                       "--nc": ["0", "-1"], "--task": ["depth"], "--out": ["afile"]}),
}


def run_cli(argv: list[str]) -> tuple[int, str, set]:
    from yolov12.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "adir").mkdir()
        (tmp / "afile").write_text("x")
        before = files(tmp)
        old = os.getcwd()
        os.chdir(tmp)
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    rc = main(argv)
                except SystemExit as e:
                    rc = int(e.code or 0)
        finally:
            os.chdir(old)
        return rc, err.getvalue(), files(tmp) - before




@seed(24)
@FUZZ
@given(st.sampled_from(sorted(COMMANDS)), st.data())
def test_cli_bad_flag_exits_2_in_one_line(command, data):
    base, flags = COMMANDS[command]
    flag = data.draw(st.sampled_from(sorted(flags)))
    value = data.draw(st.sampled_from(flags[flag]))
    argv = [*base, flag, value]
    rc, err, written = run_cli(argv)
    assert "Traceback" not in err, (argv, err[-1500:])
    assert rc == 2, (argv, rc, err[-800:])
    lines = [x for x in err.splitlines() if x.startswith("error: ")]
    assert len(lines) == 1, (argv, err)
    assert not written, (argv, written)


# ------------------------------------------------------------------------------------------------ real dry runs
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]


@pytest.mark.parametrize("change, word", [
    (lambda c: c["train"].update(recipe={"imgsz": 70}), "train.recipe.imgsz"),
    (lambda c: c.update(mlflow={"tracking_uri": "http://127.0.0.1:9"}), "127.0.0.1:9"),
])
def test_snakemake_dry_run_refuses_in_one_line(tmp_path, change, word):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "mine.yaml").write_text(dump({"study": "mine", "table": "T", "title": "t",
                                                          "variants": {"base": {}}}))
    config = {"name": "fz", "scales": ["n"], "studies": ["mine"], "ablations_dir": str(tmp_path / "studies"),
              "train": {"epochs": 1, "imgsz": 64, "batch": 2}, "latency": {"imgsz": 64},
              "complexity": {"imgsz": 64}, "export": {"imgsz": 64}}
    change(config)
    (tmp_path / "config.yaml").write_text(dump(config))
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([*SNAKEMAKE, "--directory", str(work), "--configfile", str(tmp_path / "config.yaml"),
                           "-n", "--quiet"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error: ")]
    assert proc.returncode == 2 and len(lines) == 1 and word in lines[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not files(work), files(work)
