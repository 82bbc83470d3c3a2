"""The workflow's parse: light (no torch, no Ultralytics, no file written), run identity from what differs, the
paper profile's training count, resources, and what it refuses before the first job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

PY = sys.executable
SNAKEMAKE = [PY, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
PAPER = ROOT / "workflows" / "config" / "paper.yaml"


def dry_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(workdir / "cache")}
    return subprocess.run([*SNAKEMAKE, "--directory", str(workdir), "-n", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def job_counts(text: str) -> dict[str, int]:
    if "Nothing to be done" in text:
        return {}
    stats = text.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    return {line.split()[0]: int(line.split()[1]) for line in stats if len(line.split()) == 2}


def test_paper_profile_trains_exactly_the_papers_set(tmp_path):
    """5 scale baselines + 30 ablation models (Table 2: 10, 5a: 3, 5b: 3, 5c: 6, 5d: 3, 5e: 2, 5f: 1, 5g: 2)."""
    proc = dry_run(tmp_path, "--configfile", str(PAPER))
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = job_counts(proc.stdout + proc.stderr)
    assert jobs["train"] == 35 and jobs["evaluate"] == 35, jobs
    from yolov12.workflow.plan import make_plan
    from yolov12.yamlio import load_yaml

    plan = make_plan(load_yaml(PAPER), str(PAPER), ROOT)
    # the task study is opt-in: the exports are those of the files the latency matrix times (ONNX Runtime, TensorRT),
    # one per timed architecture, made on a GPU (CUDA files)
    timed = {r.model_dir for r in plan.runs if "latency" in r.measure}
    assert jobs["export"] == len(timed) and set(plan.run_dirs("export")) == timed and plan.resources("export")["gpus"]
    trained = {d: runs for d, runs in plan.groups.items() if "train" in plan.kinds(d)}
    per_table: dict[str, int] = {}
    for d, runs in trained.items():
        if any(r.is_default for r in runs):
            continue  # a scale baseline (shared by every study that uses it)
        for table in {r.table for r in runs if "train" in r.measure}:
            per_table[table] = per_table.get(table, 0) + 1
    assert per_table == {"Table 2": 10, "Table 5a": 3, "Table 5b": 3, "Table 5c": 6, "Table 5d": 3, "Table 5e": 2,
                         "Table 5f": 1, "Table 5g": 2}, per_table
    assert sum(1 for runs in trained.values() if any(r.is_default for r in runs)) == 5
    # opting in to the extras brings back turbo, the task study, l2/l8, pe_kernel off, the MLP study at N
    extras = make_plan({**load_yaml(PAPER), "opt_in": ["extras"], "data": {**load_yaml(PAPER)["data"]}},
                       str(PAPER), ROOT)
    assert sum("train" in extras.kinds(d) for d in extras.groups) > 35


def test_paper_profile_declares_its_resources(tmp_path):
    from yolov12.workflow.plan import make_plan
    from yolov12.yamlio import load_yaml

    plan = make_plan(load_yaml(PAPER), str(PAPER), ROOT)
    train = plan.snakemake_resources("train")
    assert train["gpu"] == 8 and train["cpus_per_task"] >= 8 and train["mem_mb"] > 0 and train["runtime"] > 0
    assert plan.device("train") == "0,1,2,3,4,5,6,7"  # its own 8 devices, numbered from 0
    assert plan.snakemake_resources("latency")["gpu"] == 1 and "--exclusive" in plan.snakemake_resources(
        "latency")["slurm_extra"]
    spec = json.loads(plan.spec_json("evaluate", plan.run_dirs("evaluate")[0]))
    assert spec["settings"]["precision"] == "fp16"  # the paper's evaluation precision


def test_dry_run_imports_no_torch_and_writes_nothing(tmp_path):
    """The parse of the paper profile: no torch, no Ultralytics, no file of ours (only Snakemake's .snakemake)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import sys, runpy\n"
        "sys.argv = sys.argv[1:]\n"
        "try:\n    runpy.run_module('snakemake', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "heavy = sorted(m for m in ('torch', 'ultralytics', 'cv2', 'matplotlib') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
        "sys.exit(code)\n")
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([PY, str(probe), "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory",
                           str(work), "--configfile", str(PAPER), "-n", "--quiet"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "HEAVY=\n" in proc.stdout or proc.stdout.strip().endswith("HEAVY="), proc.stdout[-500:]
    written = [p for p in work.rglob("*") if p.is_file() and ".snakemake" not in p.parts]
    assert written == []


def _identities(extra_knob: bool) -> dict[str, str]:
    code = f"""
import dataclasses, json
import yolov12.nn.knobs as K
if {extra_knob}:
    # a new knob whose default changes nothing
    K.Knobs = dataclasses.make_dataclass("Knobs", [("new_knob", int, dataclasses.field(default=0))], bases=(K.Knobs,),
                                         frozen=True)
from yolov12.workflow.plan import make_plan
from yolov12.yamlio import load_yaml
config = load_yaml({str(ROOT / "workflows" / "config" / "default.yaml")!r})
config.update(scales=["n", "s", "m", "l", "x"], opt_in=["extras"])
runs = make_plan(config, "default.yaml", {str(ROOT)!r}).runs
assert {extra_knob} == ("new_knob" in runs[0].knobs)
print(json.dumps({{f"{{r.study}}/{{r.variant}}/{{r.scale}}/{{r.seed}}": [r.run_dir, r.model_dir] for r in runs}}))
"""
    proc = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_adding_a_neutral_knob_renames_no_run_directory():
    before, after = _identities(False), _identities(True)
    assert len(before) > 80 and before == after


def test_run_dirs_are_digests_of_canonical_identities(tmp_path):
    """A readable prefix and the digest of the identity: equal runs share a folder, a seed written 1.0 is the seed 1,
    the default spelled out is the default, and an architecture's folder ignores the recipe and the seed."""
    from yolov12.workflow.plan import make_plan
    from yolov12.workflow.studies import Run, canonical_knobs, knob_delta
    from yolov12.yamlio import load_yaml

    plan = make_plan(load_yaml(ROOT / "workflows" / "config" / "default.yaml"), "default.yaml", ROOT)

    def run(scale="n", knobs=None, train=None, seed=0):
        k = canonical_knobs("yolov12", scale, "detect", "full", knobs or {})
        return Run("s", "T", "v", "yolov12", "detect", "full", scale, seed, k,
                   knob_delta("yolov12", scale, "detect", "full", k), train or {}, ("train",), "s.yaml")

    base = plan.train_dir(run())
    assert base.startswith("yolov12n-detect-full-s0-") and len(base.rsplit("-", 1)[1]) == 12
    # the L default spelled out (residual on, layer scale 0.01, MLP ratio 1.2) is the L baseline
    assert plan.train_dir(run("l", {"residual": "on", "layer_scale": 0.01, "mlp_ratio": 1.2})) == plan.train_dir(
        run("l"))
    a, b = run(knobs={"pe_kernel": 3}), run(knobs={"pe_kernel": 3}, seed=1)
    assert plan.train_dir(a) != plan.train_dir(b) and plan.train_dir(a) != base
    assert plan.arch_dir(a) == plan.arch_dir(b) != plan.arch_dir(run())  # one architecture, measured once
    assert plan.train_dir(run(train={"epochs_scale": 0.5})) not in (plan.train_dir(a), base)
    assert plan.arch_dir(run(train={"epochs_scale": 0.5})) == plan.arch_dir(run())
    assert plan.train_dir(run(seed=1.0)) == plan.train_dir(run(seed=1))  # canonical: 1.0 is 1


def test_renaming_studies_and_variants_changes_no_spec(tmp_path):
    """Names are bookkeeping: a renamed study or variant keeps every run directory and every job's spec."""
    import shutil

    from yolov12.workflow.plan import make_plan
    from yolov12.yamlio import load_yaml

    renamed = tmp_path / "ablations"
    shutil.copytree(ROOT / "ablations", renamed)
    study = yaml.safe_load((renamed / "pe_kernel.yaml").read_text())
    study["study"] = "perceiver"
    study["variants"] = {f"kernel_{k}": v for k, v in study["variants"].items()}
    (renamed / "perceiver.yaml").write_text(yaml.safe_dump(study))
    (renamed / "pe_kernel.yaml").unlink()
    config = load_yaml(ROOT / "workflows" / "config" / "default.yaml")

    def specs(folder):
        plan = make_plan({**config, "ablations_dir": str(folder)}, "default.yaml", ROOT)
        return {(d, k): plan.spec_json(k, d) for d in plan.groups for k in plan.kinds(d)}

    before, after = specs(ROOT / "ablations"), specs(renamed)
    assert len(before) > 50 and before == after


def test_config_schema_lists_come_from_the_registry():
    from yolov12 import registry
    from yolov12.workflow import schemas

    s = schemas.config_schema()["properties"]
    assert s["scales"]["items"]["enum"] == list(registry.SCALES)
    assert s["latency"]["properties"]["runtimes"]["items"]["enum"] == list(registry.runtimes())
    assert list(s["resources"]["properties"]) == list(registry.JOB_KINDS)
    assert list(s["train"]["properties"]["per_task"]["properties"]) == list(registry.TASKS)
    study = schemas.study_schema()["properties"]
    assert study["task"]["enum"] == list(registry.TASKS) and study["family"]["enum"] == list(registry.FAMILIES)


def test_the_embedded_default_dry_runs(tmp_path):
    proc = dry_run(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = job_counts(proc.stdout + proc.stderr)
    assert jobs["train"] >= 28 and jobs["data_synth"] == 5 and jobs["report"] == 1
    # the session kinds: one job per scale, whatever the number of architectures measured there
    from yolov12.workflow.plan import make_plan
    from yolov12.yamlio import load_yaml

    default = ROOT / "workflows" / "config" / "default.yaml"
    plan = make_plan(load_yaml(default, "config"), str(default), ROOT)
    for kind in ("complexity", "latency"):
        scales = {r.scale for r in plan.runs if kind in r.measure}
        assert jobs[kind] == len(plan.run_dirs(kind)) == len(scales), (kind, jobs)
        assert len({r.model_dir for r in plan.runs if kind in r.measure}) > len(scales)  # several in one job


def test_config_file_with_duplicate_key_is_refused_before_any_job(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: dup\nscales: [n]\nscales: [s]\n")
    proc = dry_run(tmp_path, "--configfile", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {cfg}:3: scales: key 'scales' appears twice")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()


def test_study_yaml_error_names_the_real_folder(tmp_path):
    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "mine.yaml").write_text(yaml.safe_dump({"study": "mine", "table": "T", "title": "t",
                                                      "variants": {"a": {"knobs": {"area": 5}}}}))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "c", "ablations_dir": str(folder), "scales": ["n"],
                                   "train": {"imgsz": 64}, "latency": {"imgsz": 64}}))
    proc = dry_run(tmp_path, "--configfile", str(cfg))
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {folder / 'mine.yaml'}: variants.a (scale n): area:"), line
    assert "area count 5" in line and "allowed: area counts" in line


def test_task_recipes_are_the_official_readme_recipes():
    """Segmentation: the detection recipe with batch 128; classification: ImageNet at 224 px, 200 epochs, SGD
    lr0 0.2, cosine, nbs 256, weight decay 1e-4 (the official task branches' README recipes)."""
    from yolov12.workflow.plan import make_plan
    from yolov12.yamlio import load_yaml

    plan = make_plan({**load_yaml(PAPER), "opt_in": ["extras"]}, str(PAPER), ROOT)
    args = {r.task: plan.train_args(r) for r in plan.runs if r.study == "tasks" and r.scale == "s"}
    assert args["segment"]["batch"] == 128 and args["segment"]["epochs"] == 600 and args["segment"]["lr0"] == 0.01
    cls = args["classify"]
    assert (cls["imgsz"], cls["epochs"], cls["batch"], cls["optimizer"], cls["lr0"], cls["nbs"], cls["cos_lr"],
            cls["weight_decay"], cls["warmup_epochs"]) == (224, 200, 256, "SGD", 0.2, 256, True, 0.0001, 0)
    assert plan.spec("evaluate", next(r.run_dir for r in plan.runs if r.task == "classify"))["imgsz"] == 224


def test_a_registered_runtime_is_a_choice_of_a_config(tmp_path):
    """A runtime registered through the public API (in a module named by YOLOV12_PLUGINS) validates in a config's
    latency.runtimes; without the plugin the same config is refused."""
    (tmp_path / "myruntimes.py").write_text("import yolov12\n"
                                            "yolov12.register_runtime('eager_twin', 'yolov12.latency.runtimes:build_eager')\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "c", "scales": ["n"], "studies": ["backend"],
                                   "latency": {"runtimes": ["eager", "eager_twin"]}}))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    check = [PY, "-m", "yolov12", "workflow", "check", str(cfg), "--basedir", str(ROOT)]
    refused = subprocess.run(check, capture_output=True, text=True, timeout=300, env=env)
    assert refused.returncode == 2 and "eager_twin" in refused.stderr
    accepted = subprocess.run(check, capture_output=True, text=True, timeout=300,
                              env={**env, "YOLOV12_PLUGINS": "myruntimes"})
    assert accepted.returncode == 0, accepted.stderr


@pytest.mark.parametrize("text, key", [("variants:\n  off: {}\n", "variants.False"),
                                       ("variants:\n  base: {seeds: [1.5]}\n", "variants.base.seeds")])
def test_a_yaml_boolean_variant_name_or_a_fractional_seed_is_refused(tmp_path, text, key):
    """An unquoted `off:` would be the variant False, a seed 1.5 no seed at all: refused at parse, naming the key."""
    from yolov12.errors import UserError
    from yolov12.workflow.plan import make_plan
    from yolov12.yamlio import load_yaml

    (tmp_path / "ablations").mkdir()
    (tmp_path / "ablations" / "s.yaml").write_text("study: s\ntable: Table 2\ntitle: t\nscales: [n]\n" + text)
    config = {**load_yaml(ROOT / "workflows" / "config" / "default.yaml"), "studies": ["s"],
              "ablations_dir": str(tmp_path / "ablations")}
    with pytest.raises(UserError) as e:
        make_plan(config, "c.yaml", ROOT)
    assert e.value.key.startswith(key) and "s.yaml" in str(e.value)
    if "off" in text:
        assert "quote" in str(e.value)


def test_identity_is_canonical_and_real_data_is_known_by_content(tmp_path, monkeypatch):
    """1.0 is 1 and key order is nothing; a real dataset's identity follows its annotation bytes and image count,
    not where it lives; its checksums are cached only under .snakemake/ (nothing is written without one)."""
    import shutil

    from yolov12.workflow import identity

    assert identity.dumps({"b": [1.0, 2.5], "a": {"y": 0.0, "x": True}}) == '{"a":{"x":true,"y":0},"b":[1,2.5]}'
    assert identity.digest({"seed": 1.0, "lr0": 0.01}) == identity.digest({"lr0": 0.01, "seed": 1})
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "val2017").mkdir()
    (root / "annotations" / "instances_val2017.json").write_text('{"images": []}')
    (root / "val2017" / "1.jpg").write_bytes(b"x")

    def ident(r):
        return identity.real_dataset("coco", str(r), ["annotations/instances_val2017.json"], ["val2017"])

    first = ident(root)
    assert list(tmp_path.rglob("*.json*")) == [root / "annotations" / "instances_val2017.json"]  # no cache written
    shutil.copytree(root, tmp_path / "moved")
    assert ident(tmp_path / "moved") == first  # content, not location
    (tmp_path / ".snakemake").mkdir()
    assert ident(root) == first and identity.CACHE.is_file()  # cached under Snakemake's folder
    (root / "val2017" / "2.jpg").write_bytes(b"y")
    assert ident(root) != first  # one more image
    (root / "annotations" / "instances_val2017.json").write_text('{"images": [1]}')
    assert ident(root)["annotations/instances_val2017.json"] != first["annotations/instances_val2017.json"]


def planned_outputs(text: str, name: str) -> set[str]:
    """The result files a dry run lists (``output: a, b`` lines), by file name."""
    found = set()
    for line in text.splitlines():
        if line.strip().startswith("output:"):
            found |= {p.strip() for p in line.split(":", 1)[1].split(",") if p.strip().endswith("/" + name)}
    return found


def test_config_on_the_command_line_merges_into_the_default(tmp_path):
    """Snakemake's own convention: the Snakefile's `configfile:` is the embedded default and `--config` merges into
    it. The dry run trains exactly what the default's plan with seeds [0, 1] trains (every study's runs twice)."""
    from yolov12.workflow.configfiles import from_snakemake

    proc = dry_run(tmp_path, "--config", "seeds=[0,1]")
    assert proc.returncode == 0, proc.stderr[-3000:]
    plan = from_snakemake([], {"seeds": [0, 1]}, ROOT, tmp_path)
    assert {r.seed for r in plan.runs} == {0, 1}
    assert planned_outputs(proc.stdout, "train.json") == set(plan.outputs("train"))
    default = from_snakemake([], {}, ROOT, tmp_path)
    assert len(plan.outputs("train")) > len(default.outputs("train"))


@pytest.mark.parametrize("override, key", [("scales=[q]", "scales.0"), ("synthetic=true", "synthetic"),
                                           ("latency={'warmup_s':-1}", "latency.warmup_s")])
def test_an_override_error_names_config_not_the_file(tmp_path, override, key):
    proc = dry_run(tmp_path, "--config", override)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: --config: {key}:"), line
    assert "default.yaml" not in line and "Traceback" not in proc.stderr
    if key == "synthetic":
        assert "data.kind" in line


def test_synthetic_is_data_kind_and_the_doubled_key_is_refused(tmp_path):
    from yolov12.errors import UserError
    from yolov12.workflow.plan import make_plan

    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: c\nsynthetic: true\nscales: [n]\n")
    proc = dry_run(tmp_path, "--configfile", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {cfg}: synthetic:")
    plan = make_plan(load_yaml_file(PAPER), str(PAPER), ROOT)
    assert plan.config["data"]["kind"] == "real" and "synthetic" not in plan.config
    with pytest.raises(UserError):
        make_plan({**load_yaml_file(PAPER), "synthetic": False}, str(PAPER), ROOT)


def load_yaml_file(path: Path) -> dict:
    from yolov12.yamlio import load_yaml

    return load_yaml(path)


def test_a_relative_ablations_dir_is_relative_to_the_working_directory(tmp_path):
    """Run from another folder (`--directory`): a config's relative `ablations_dir` is that folder's, as Snakemake
    reads every relative path of a workflow; the embedded default still finds the workflow's own studies."""
    work = tmp_path / "work"
    (work / "studies").mkdir(parents=True)
    (work / "studies" / "mine.yaml").write_text(yaml.safe_dump({"study": "mine", "table": "T", "title": "t",
                                                                "measure": ["complexity"],
                                                                "variants": {"a": {}, "b": {"knobs": {"pe_kernel": 5}}}}))
    cfg = work / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "c", "ablations_dir": "studies", "studies": ["mine"], "scales": ["n"]}))
    proc = dry_run(work, "--configfile", str(cfg))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(planned_outputs(proc.stdout, "complexity.json")) == 1  # one complexity session at N ...
    from yolov12.workflow.plan import make_plan

    plan = make_plan(yaml.safe_load(cfg.read_text()), str(cfg), work)
    assert len({r.model_dir for r in plan.runs}) == 2  # ... counting the study's two architectures
    default = dry_run(work)
    assert default.returncode == 0 and job_counts(default.stdout)["train"] >= 28, default.stderr[-2000:]
