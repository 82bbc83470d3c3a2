"""The real Snakemake workflow on a tiny config, end to end: results with seeds and intervals, divergence as a
result, timing isolation on the node, MLflow that answers the study question (a real ``mlflow server``), the no-op
rerun, the one-variant rerun, and a deleted result rebuilt."""

from __future__ import annotations

import json
import shutil
import urllib.request

import pandas as pd
import pytest

from workflow_helpers import TINY_STUDY, planned_jobs, post, serve_mlflow, snakemake, write_tiny

pytestmark = pytest.mark.xdist_group("tiny")  # one local tiny run (the session fixture tiny_run) per test process


@pytest.mark.slow
def test_tiny_workflow_end_to_end(tiny_run):
    tmp, _ = tiny_run
    results = tmp / "results" / "tiny"
    acc = pd.read_csv(results / "accuracy.csv")
    assert sorted(zip(acc["variant"], acc["seed"])) == [("base", 0), ("base", 1), ("diverge", 0), ("pe3", 0)]
    ok = acc[acc["variant"] != "diverge"]
    assert ok["converged"].all() and ok["mlflow_run_id"].notna().all() and (ok["AP"] >= 0).all()
    assert (ok["evaluated_images"] == ok["gt_images"]).all() and (ok["gt_images"] == 4).all()
    diverged = acc[acc["variant"] == "diverge"].iloc[0]
    assert not diverged["converged"] and diverged["diverged_epoch"] == 1  # divergence is a result, not a failure
    assert acc.loc[acc["variant"] == "base", "baseline"].all() and not acc.loc[acc["variant"] == "pe3",
                                                                              "baseline"].any()
    deltas = pd.read_csv(results / "deltas.csv")
    pe3 = deltas[deltas["variant"] == "pe3"].iloc[0]  # against the baseline of the same seed
    assert pe3["baseline_variant"] == "base" and pe3["ci_lo"] <= pe3["delta"] <= pe3["ci_hi"]
    assert pe3["n_images"] == 4 and pe3["n_boot"] == 200
    lat = pd.read_csv(results / "latency.csv")
    assert (lat["status"] == "ok").all() and (lat["median_ci_lo"] <= lat["median_ms"]).all()
    assert (lat["median_ms"] <= lat["median_ci_hi"]).all() and lat["kernel"].notna().all()
    samples = pd.read_csv(results / "latency_samples.csv.gz")
    assert len(samples) == lat.drop_duplicates("run_dir")["iters"].sum()  # every sample of every cell kept
    curves = pd.read_csv(results / "curves.csv")
    assert {"epoch", "train/box_loss"} <= set(curves.columns)
    jobs = pd.read_csv(results / "jobs.csv")
    assert set(jobs["kind"]) == {"train", "evaluate", "complexity", "latency"} and (jobs["wall_s"] > 0).all()
    studies = json.loads((results / "studies.json").read_text())
    assert studies[0]["baselines"] == {"n": "base"} and studies[0]["seeds"] == [0, 1]
    assert (tmp / "reports" / "tiny" / "report.md").is_file()


@pytest.mark.slow
def test_timing_jobs_ran_alone_on_the_node(tiny_run):
    from yolov12.workflow import node

    tmp, _ = tiny_run
    ledger = node.read_ledger(tmp / "node")
    assert {e["job"].split(":")[0] for e in ledger} >= {"train", "evaluate", "complexity", "latency"}
    assert node.overlaps(ledger) == []  # no job beside a latency job, no device held twice
    for path in (tmp / "results" / "tiny" / "runs").glob("*/latency.json"):
        assert json.loads(path.read_text())["isolation"]["other_jobs_during"] == []


@pytest.mark.slow
def test_mlflow_answers_the_study_question(tiny_run):
    """Each study's experiment holds every variant (its baseline included) with AP, latency and the job runs
    behind them; job runs have real start and end times and the commit in MLflow's own tag."""
    tmp, _ = tiny_run
    uri = (tmp / "results" / "tiny" / "mlflow" / "store.ready").read_text().strip()
    with serve_mlflow(uri) as base:
        exps = {e["name"]: e["experiment_id"] for e in
                post(f"{base}/api/2.0/mlflow/experiments/search", {"max_results": 100})["experiments"]}
        assert {"tiny/tiny", "tiny/jobs", "tiny/report"} <= set(exps)
        report = post(f"{base}/api/2.0/mlflow/runs/search", {"experiment_ids": [exps["tiny/report"]]})["runs"]
        assert len(report) == 1 and report[0]["info"]["status"] == "FINISHED"  # report.md and .pdf as artifacts
        summary = post(f"{base}/api/2.0/mlflow/runs/search", {"experiment_ids": [exps["tiny/tiny"]],
                                                               "max_results": 100})["runs"]
        by_variant = {}
        for r in summary:
            tags = {t["key"]: t["value"] for t in r["data"]["tags"]}
            metrics = {m["key"]: m["value"] for m in r["data"].get("metrics", [])}
            by_variant[tags["variant"]] = (tags, metrics)
        assert set(by_variant) == set(TINY_STUDY["variants"])
        for variant in ("base", "pe3"):
            tags, metrics = by_variant[variant]
            assert "AP" in metrics and "gflops" in metrics and "hardware.cpu" in tags
            assert any(k.startswith("latency_ms.cpu.fp32.eager") for k in metrics)
            assert tags["job.train"] and tags["job.evaluate"] and tags["job.latency"]
        assert by_variant["base"][0]["baseline"] == "True" and by_variant["base"][1]["AP_n_seeds"] == 2
        assert "delta_ci_lo" in by_variant["pe3"][1]
        jobs = post(f"{base}/api/2.0/mlflow/runs/search", {"experiment_ids": [exps["tiny/jobs"]],
                                                            "max_results": 100})["runs"]
        kinds = sorted({t["key"]: t["value"] for t in r["data"]["tags"]}["kind"] for r in jobs)
        # one complexity run per architecture (base, its seed 1 and 'diverge' share one) and one latency run: the
        # timing session of scale N, where both architectures are timed in the same processes
        assert kinds == sorted(["train"] * 4 + ["evaluate"] * 4 + ["complexity"] * 2 + ["latency"])
        for r in jobs:
            info = r["info"]
            tags = {t["key"]: t["value"] for t in r["data"]["tags"]}
            assert info["status"] == "FINISHED" and int(info["end_time"]) > int(info["start_time"])
            assert tags["mlflow.source.git.commit"]
        train = next(r for r in jobs if {t["key"]: t["value"] for t in r["data"]["tags"]}["kind"] == "train"
                     and any(p["key"] == "knob.pe_kernel" and p["value"] == "3" for p in r["data"]["params"]))
        history = json.loads(urllib.request.urlopen(
            f"{base}/api/2.0/mlflow/metrics/get-history?run_id={train['info']['run_id']}&metric_key="
            "train/box_loss", timeout=10).read())["metrics"]
        assert [int(m["step"]) for m in history] == [1]  # one epoch, logged once, as it ended


@pytest.mark.slow
def test_second_run_is_a_no_op_and_one_changed_variant_reruns_only_its_jobs(tiny_run):
    tmp, cfg = tiny_run
    assert planned_jobs(snakemake(tmp, "--configfile", str(cfg), "--cores", "2", "-n")) == {}
    study = json.loads(json.dumps(TINY_STUDY))
    study["variants"]["pe3"]["knobs"]["pe_kernel"] = 5
    write_tiny(tmp, study)
    jobs = planned_jobs(snakemake(tmp, "--configfile", str(cfg), "--cores", "2", "-n"))
    for kind in ("train", "evaluate", "complexity", "latency"):
        assert jobs.get(kind) == 1, jobs
    assert "data_synth" not in jobs and "mlflow_store" not in jobs
    write_tiny(tmp, TINY_STUDY)  # back as it was: nothing to do again
    assert planned_jobs(snakemake(tmp, "--configfile", str(cfg), "--cores", "2", "-n")) == {}


@pytest.mark.slow
def test_a_deleted_result_is_rebuilt(tiny_run):
    tmp, cfg = tiny_run
    runs = tmp / "results" / "tiny" / "runs"
    victim = next(d for d in sorted(runs.iterdir()) if (d / "eval.json").is_file())  # a training's folder
    shutil.copytree(victim, tmp / "kept")
    shutil.rmtree(victim)
    jobs = planned_jobs(snakemake(tmp, "--configfile", str(cfg), "--cores", "2", "-n"))
    assert jobs.get("train") == 1 and jobs.get("evaluate") == 1 and jobs.get("aggregate") == 1, jobs
    assert "latency" not in jobs  # its architecture's folder is another one
    shutil.copytree(tmp / "kept", victim)  # leave the module's run as it was for the other tests
    snakemake(tmp, "--configfile", str(cfg), "--cores", "2", "--touch")
    assert planned_jobs(snakemake(tmp, "--configfile", str(cfg), "--cores", "2", "-n")) == {}


@pytest.mark.slow
def test_snakemake_builds_its_html_report(tiny_run):
    tmp, cfg = tiny_run
    out = tmp / "snakemake-report.html"
    snakemake(tmp, "--configfile", str(cfg), "--report", str(out))
    text = out.read_text(errors="replace")
    assert out.stat().st_size > 10_000 and "report.md" in text
