"""Each job reruns exactly when its identity changes (docs/identity.md): a tiny real config is run once, then each
edit of a table is made, the dry run's job counts are compared with what must rerun, and the edit is undone.

The run is real (one training of one epoch on 8 synthetic images, its evaluation, complexity and latency, the
aggregation and the report); the edits are judged by ``snakemake -n`` on that state, which is what the next
invocation would run. Two are then run for real: a truncated best.pt (retrained, then nothing to do) and a renamed
variant with a note (the label arrives in studies.json and the report)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml

from workflow_helpers import planned_jobs, snakemake, tiny_config

pytestmark = pytest.mark.xdist_group("identity")

STUDIES = {
    "tiny": {"study": "tiny", "table": "Table 2", "title": "tiny identity study", "scales": ["n"],
             "measure": ["train", "evaluate", "complexity", "latency"], "variants": {"base": {}}},
    # the same default model under another study: one training, one architecture, shared by both
    "epochs": {"study": "epochs", "table": "Table 2", "title": "tiny epochs study", "scales": ["n"],
               "measure": ["train", "evaluate", "complexity", "latency"], "variants": {"e1": {}}},
}
RETRAIN = {"train": 1, "evaluate": 1, "aggregate": 1, "report": 1}
LABELS = {"aggregate": 1, "report": 1}


def base_config(shared: Path) -> dict:
    cfg = tiny_config(shared, studies=["tiny", "epochs"], seeds=[1])
    cfg["data"]["synthetic"]["seed"] = 0
    return cfg


class Setup:
    def __init__(self, root: Path):
        self.root, self.shared, self.work = root, root / "shared", root / "work"
        self.config_file = self.shared / "tiny.yaml"
        self.shared.mkdir()
        self.work.mkdir()
        self.write(base_config(self.shared), STUDIES)

    def write(self, config: dict, studies: dict) -> None:
        (self.shared / "ablations").mkdir(exist_ok=True)
        for old in (self.shared / "ablations").glob("*.yaml"):
            old.unlink()
        for name, study in studies.items():
            (self.shared / "ablations" / f"{name}.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
        self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))

    def planned(self, *args: str, work: Path | None = None) -> dict[str, int]:
        proc = snakemake(work or self.work, "--configfile", str(self.config_file), "-n", *(args or ("--cores", "2")))
        return {k: v for k, v in planned_jobs(proc).items() if k not in ("all", "total")}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    s = Setup(tmp_path_factory.mktemp("identity"))
    snakemake(s.work, "--configfile", str(s.config_file), "--cores", "2")
    assert s.planned() == {}
    return s


def edit_config(fn):
    def apply(s: Setup):
        cfg = base_config(s.shared)
        fn(cfg)
        s.write(cfg, STUDIES)
    return apply


def edit_study(fn):
    def apply(s: Setup):
        studies = copy.deepcopy(STUDIES)
        fn(studies)
        s.write(base_config(s.shared), studies)
    return apply


def _set(d: dict, path: str, value) -> None:
    *keys, last = path.split(".")
    for k in keys:
        d = d.setdefault(k, {})
    d[last] = value


def config_key(path: str, value):
    return edit_config(lambda cfg: _set(cfg, path, value))


def study_key(path: str, value):
    return edit_study(lambda studies: _set(studies, path, value))


def rename(studies: dict) -> None:
    studies["tiny"]["variants"] = {"renamed": studies["tiny"]["variants"]["base"]}


def add_epochs_variant(studies: dict) -> None:
    studies["epochs"]["variants"]["e2"] = {"train": {"epochs_scale": 2}}


# the cost prediction made before the jobs: again when any job's identity changes (Plan.jobs_digest)
PREDICTED = {"cost_predicted": 1}

# (edit, apply(setup), extra snakemake arguments, the exact jobs that must rerun)
EDITS = [
    ("recipe key in the config", config_key("train.recipe.lr0", 0.02), (), {**RETRAIN, **PREDICTED}),
    ("per-scale key", config_key("train.per_scale", {"n": {"lr0": 0.02}}), (), {**RETRAIN, **PREDICTED}),
    ("per-task key", config_key("train.per_task", {"detect": {"mosaic": 0.5}}), (), {**RETRAIN, **PREDICTED}),
    ("variant knob", study_key("tiny.variants.base.knobs", {"pe_kernel": 5}), (),
     {**RETRAIN, **PREDICTED, "complexity": 1, "latency": 1}),
    ("variant train override", study_key("tiny.variants.base.train", {"lr0": 0.05}), (), {**RETRAIN, **PREDICTED}),
    ("seed 1 -> 1.0", config_key("seeds", [1.0]), (), {}),
    ("variant rename", edit_study(rename), (), LABELS),
    ("variant note", study_key("tiny.variants.base.note", "a note"), (), LABELS),
    ("study title", study_key("tiny.title", "another title"), (), LABELS),
    ("resources", config_key("resources", {"train": {"mem_mb": 5000, "cpus": 2}}), (), {}),
    ("--cores", edit_config(lambda cfg: None), ("--cores", "1"), {}),
    ("tracking URI", None, (), {"mlflow_store": 1}),  # set in the test (a path under tmp)
    ("moving the whole folder", None, (), {"mlflow_store": 1}),
    ("synthetic data regenerated with another seed", config_key("data.synthetic.seed", 1), (),
     {"data_synth": 1, **RETRAIN, **PREDICTED}),
    ("latency setting", config_key("latency.min_iters", 6), (), {"latency": 1, **LABELS, **PREDICTED}),
    ("complexity setting", config_key("complexity.imgsz", 128), (), {"complexity": 1, **LABELS, **PREDICTED}),
    ("evaluation setting", config_key("evaluate.conf", 0.01), (), {"evaluate": 1, **LABELS, **PREDICTED}),
    ("a variant added to the epochs study", edit_study(add_epochs_variant), (), {**RETRAIN, **PREDICTED}),
]


@pytest.mark.slow
def test_each_edit_reruns_exactly_its_jobs(setup):
    s = setup
    measured = {}
    for name, apply, args, expected in EDITS:
        if name == "tracking URI":
            cfg = base_config(s.shared)
            cfg["mlflow"] = {"tracking_uri": f"sqlite:///{s.root / 'elsewhere.db'}"}
            s.write(cfg, STUDIES)
            measured[name] = s.planned()
        elif name == "moving the whole folder":
            moved = s.root / "moved"
            shutil.move(str(s.work), str(moved))
            try:
                measured[name] = s.planned(work=moved)
            finally:
                shutil.move(str(moved), str(s.work))
        else:
            apply(s)
            measured[name] = s.planned(*args)
        s.write(base_config(s.shared), STUDIES)  # undone: nothing to do again
    wrong = {n: (measured[n], e) for n, _, _, e in EDITS if measured[n] != e}
    assert not wrong, json.dumps(wrong, indent=1)
    assert s.planned() == {}


@pytest.mark.slow
def test_a_damaged_best_pt_retrains_its_model(setup):
    """Truncated weights are noticed at the next invocation, retrained for real, and then nothing is left to do
    (the damage marker stays an input: no rerun loop)."""
    from yolov12.workflow.identity import digest

    s = setup
    best = next((s.work / "results" / "tiny" / "runs").glob("*-s1-*/train/weights/best.pt"))
    size = best.stat().st_size
    best.write_bytes(best.read_bytes()[: size // 2])  # truncated
    assert s.planned() == {"weights_damaged": 1, **RETRAIN}
    snakemake(s.work, "--configfile", str(s.config_file), "--cores", "2")
    assert s.planned() == {}
    folder = best.parents[2]
    train, ev = (json.loads((folder / f).read_text()) for f in ("train.json", "eval.json"))
    assert best.stat().st_size == train["weights"]["bytes"] > size // 2  # trained again, whole
    assert ev["weights"]["sha256"] == train["weights"]["sha256"]  # the evaluation says which weights it scored
    identity = json.loads((folder / "identity.json").read_text())  # the folder says what it holds
    assert train["identity"] == identity and folder.name.endswith("-" + digest(identity))


@pytest.mark.slow
def test_a_renamed_variant_and_its_note_reach_the_report(setup):
    s = setup
    studies = copy.deepcopy(STUDIES)
    rename(studies)
    studies["tiny"]["variants"]["renamed"]["note"] = "the note"
    try:
        s.write(base_config(s.shared), studies)
        assert s.planned() == LABELS
        snakemake(s.work, "--configfile", str(s.config_file), "--cores", "2")
        index = json.loads((s.work / "results" / "tiny" / "studies.json").read_text())
        tiny = next(st for st in index if st["study"] == "tiny")
        assert [(v["variant"], v["note"]) for v in tiny["variants"]] == [("renamed", "the note")]
        assert "renamed" in (s.work / "reports" / "tiny" / "report.md").read_text()
    finally:
        s.write(base_config(s.shared), STUDIES)
