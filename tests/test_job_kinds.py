"""A job kind is one registry row and its own module (yolov12.workflow.kinds): the plan, the checks, the schema and
the cost model ask the kind instead of branching on its name. A throwaway kind ("probe": one per architecture, its
hooks, its table and its runner in THIS file) is added as one registry row and runs through the plan, the config
schema, the shape checks, the cost model, the job runner, the aggregation and the report, with nothing else
changed.

Every kind of the registry has the hooks its scope needs (timm-style: parametrised over the registry)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workflow_helpers import tiny_config
from yolov12 import registry
from yolov12.errors import UserError
from yolov12.registry import JOB_KINDS, JobKind
from yolov12.workflow import kinds

PROBE = JobKind("probe", "probe.json", f"{__name__}:run_probe", scope="architecture", hooks=__name__)
PROBE_IMGSZ = 96  # where the probe's model runs (checked against the model's strides like any kind's size)
PROBE_S = 2.5  # the cost the probe predicts per job

# ------------------------------------------------------------------------------------------ the probe's module
RESULT_BYTES = 1_000
TABLES = {"probe": "probe.csv"}


def identity(plan, run_dir):
    return {"job": "probe", **plan.arch_identity(plan.groups[run_dir][0]), "imgsz": PROBE_IMGSZ}


def sizes(plan, run):
    return {"probe": ([(PROBE_IMGSZ, PROBE_IMGSZ)], (plan.source, "probe.imgsz"))}


def cost(plan, cal, run, run_dir, res):
    return PROBE_S, True, 0.0


def aggregate(out, base, row, files):
    import json as _json

    path = files["probe"]
    if path.is_file():
        out.rows["probe"].append({**base, "params": _json.loads(path.read_text())["params"]})


def run_probe(spec, out):
    """Real work: build the architecture and count its parameters."""
    from yolov12.models import torch_model

    m = spec["model"]
    model = torch_model(m["family"], m["scale"], m["task"], m["hierarchy"], m["nc"], **m["knobs"])
    return {"status": "ok", "params": sum(p.numel() for p in model.parameters()), "imgsz": spec["imgsz"]}


# ------------------------------------------------------------------------------------------ the tests
@pytest.fixture
def probe_kind(monkeypatch):
    from yolov12.workflow import schemas

    monkeypatch.setitem(registry.JOB_KINDS, "probe", PROBE)  # the one registry line
    schemas._schema.cache_clear()  # the schema's kind lists are derived from the registry when first built
    yield PROBE
    monkeypatch.delitem(registry.JOB_KINDS, "probe")
    schemas._schema.cache_clear()


def probe_plan(tmp_path, measure=("train", "evaluate", "probe")):
    import yaml

    from yolov12.workflow.plan import make_plan

    (tmp_path / "ablations").mkdir(exist_ok=True)
    study = {"study": "tiny", "table": "Table 2", "title": "probe", "scales": ["n"], "measure": list(measure),
             "variants": {"base": {}, "pe3": {"knobs": {"pe_kernel": 3}}}}
    (tmp_path / "ablations" / "tiny.yaml").write_text(yaml.safe_dump(study))
    return make_plan(tiny_config(tmp_path), "tiny.yaml")


def test_throwaway_kind_is_planned_checked_priced_and_run(probe_kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # results/<config>/ is relative to the working directory
    from yolov12.workflow import jobs
    from yolov12.workflow.cost.model import jobs as cost_jobs

    plan = probe_plan(tmp_path)
    dirs = plan.run_dirs("probe")
    assert len(dirs) == 2 and all(d == plan.groups[d][0].model_dir for d in dirs)  # one per architecture
    assert {plan.identity("probe", d)["job"] for d in dirs} == {"probe"}
    assert plan.job_inputs("probe", dirs[0], "S") == {"store": "S"}  # it reads nothing else
    assert plan.resources("probe") == {**PROBE.resources}  # the registry's default resources, from the schema
    cal = {"device": "cpu", "threads": 2, "ref_imgsz": 640, "overhead_s": {"probe": 1.0}}
    probes = [j for j in cost_jobs(plan, cal) if j.kind == "probe"]
    assert [(j.seconds, j.exact, j.disk_bytes) for j in probes] == [(PROBE_S + 1.0, True, RESULT_BYTES)] * 2
    # the job runs through the suite's runner: identity claimed in its folder, result written
    out = Path(plan.result_path("probe", dirs[0]))
    spec = plan.spec("probe", dirs[0])
    spec["mlflow"] = {"uri": None}
    result = jobs.run("probe", json.dumps(spec), out)
    assert result["status"] == "ok" and result["params"] > 1_000_000 and result["imgsz"] == PROBE_IMGSZ
    assert json.loads(out.read_text())["identity"] == plan.identity("probe", dirs[0])
    # aggregated into its own table, one row per architecture of each study row (the other kinds did not run)
    import pandas as pd

    from yolov12.workflow.aggregate import aggregate

    assert f"{plan.results}/probe.csv" in plan.aggregated()
    for d in dirs[1:]:
        jobs.run("probe", json.dumps({**plan.spec("probe", d), "mlflow": {"uri": None}}), plan.result_path("probe", d))
    aggregate(plan)
    table = pd.read_csv(Path(plan.results) / "probe.csv")
    assert sorted(table["variant"]) == ["base", "pe3"] and (table["params"] > 1_000_000).all()
    # and the report shows its table as it is (no renderer of its own)
    from yolov12.report import render_report

    md = Path(render_report(plan.results, tmp_path / "report", "tiny", pdf=False)["markdown"]).read_text()
    shown = md[md.index("Results: probe"):]
    assert all(str(p) in shown for p in table["params"]) and "pe3" in shown  # counts as counted


def test_throwaway_kind_size_is_checked_and_blamed_on_its_key(probe_kind, tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.PROBE_IMGSZ", 100)  # not a multiple of the model's largest stride
    with pytest.raises(UserError) as e:
        probe_plan(tmp_path)
    assert e.value.key == "probe.imgsz"


def test_a_study_cannot_measure_a_kind_the_registry_lacks(tmp_path):
    with pytest.raises(UserError) as e:
        probe_plan(tmp_path)
    assert "probe" in str(e.value) and "measure" in str(e.value)


@pytest.mark.parametrize("name", list(JOB_KINDS))
def test_each_kind_module_has_the_hooks_its_scope_needs(name):
    job, module = JOB_KINDS[name], kinds.of(name)
    assert callable(getattr(module, "settings" if job.session else "identity", None))
    assert callable(getattr(module, "cost", None)) and module.RESULT_BYTES > 0
    assert callable(job.load_runner())
