"""Roofline: the measured probes give positive finite peaks, are cached per device, and a real timed cell gets
achieved FLOP/s, bytes, intensity and fractions that follow from its latency, FLOPs and the peaks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from yolov12.latency import measure
from yolov12.latency.roofline import (BYTES_PER_ELEMENT, annotate_cells, cache_dir, cell_roofline, copy_probe,
                                      device_key, gemm_probe, model_costs, peaks, roofline_metrics)


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLOV12_ROOFLINE_DIR", str(tmp_path / "roofline"))
    return tmp_path / "roofline"


def finite_positive(v) -> bool:
    return isinstance(v, float) and math.isfinite(v) and v > 0


@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_and_copy_probes_measure_positive_finite_peaks(threads):
    g = gemm_probe("cpu", "fp32", n=256, seconds=0.2, threads=threads)
    c = copy_probe("cpu", mbytes=32, seconds=0.2, threads=threads)
    assert finite_positive(g["flops_per_s"]) and g["reps"] >= 3 and g["n"] == 256
    assert finite_positive(c["bytes_per_s"]) and c["reps"] >= 3


def test_probe_restores_the_callers_thread_count():
    before = torch.get_num_threads()
    gemm_probe("cpu", "fp32", n=128, seconds=0.05, threads=1 if before != 1 else 2)
    assert torch.get_num_threads() == before


def test_peaks_are_cached_per_device_and_threads(private_cache):
    first = peaks("cpu", ["fp32"], threads=1, seconds=0.1)
    path = private_cache / f"{device_key('cpu', 1)}.json"
    assert cache_dir() == private_cache and path.is_file() and device_key("cpu", 1) != device_key("cpu", 2)
    on_disk = json.loads(path.read_text())
    assert on_disk["gemm"]["fp32"]["flops_per_s"] == first["gemm"]["fp32"]["flops_per_s"]
    again = peaks("cpu", ["fp32"], threads=1, seconds=0.1)  # read back, not measured again
    assert again["gemm"]["fp32"] == first["gemm"]["fp32"] and again["copy"] == first["copy"]
    path.write_text("{")  # a damaged cache is measured again, never trusted
    assert finite_positive(peaks("cpu", ["fp32"], threads=1, seconds=0.1)["copy"]["bytes_per_s"])


def test_a_real_cell_is_annotated_with_consistent_roofline_numbers(private_cache):
    spec = {"family": "yolov12", "scale": "n", "nc": 80}
    result = measure(spec, devices=["cpu"], precisions=["fp32"], runtimes=["eager"], imgszs=[64], threads=1,
                     warmup_iters=1, warmup_s=0, min_iters=3, min_s=0)
    cells = result["cells"]
    assert cells[0]["status"] == "ok"
    annotate_cells(cells, spec, seconds=0.2)
    cell, r = cells[0], cells[0]["roofline"]
    costs = model_costs(spec, 64)
    assert costs["flops"] > 0 and costs["params"] == result["model"]["params_fused"]
    assert r["flops"] == pytest.approx(costs["flops"] * cell["batch"])
    assert r["bytes_moved"] == pytest.approx(4 * costs["params"] + 2 * 4 * costs["activation_elements"])
    assert r["achieved_flops_per_s"] == pytest.approx(r["flops"] / (cell["median_ms"] / 1e3))
    assert r["arithmetic_intensity"] == pytest.approx(r["flops"] / r["bytes_moved"])
    assert r["fraction_of_peak"] == pytest.approx(r["achieved_flops_per_s"] / r["peak_flops_per_s"])
    attainable = min(r["peak_flops_per_s"], r["arithmetic_intensity"] * r["peak_bytes_per_s"])
    assert r["fraction_of_roof"] == pytest.approx(r["achieved_flops_per_s"] / attainable)
    assert 0 < r["fraction_of_peak"] and r["bound"] in ("memory", "compute")
    assert r["device_key"] == device_key("cpu", 1)
    metrics = roofline_metrics(cells)
    assert metrics[f"roofline/cpu_fp32_eager_{cell['backend']}/fraction_of_peak"] == r["fraction_of_peak"]

    # the same cell in fp16 against peaks that hold no fp16 GEMM: half the bytes, and a gap with its reason, not 0
    half = cell_roofline({**cell, "precision": "fp16"}, costs, peaks("cpu", ["fp32"], threads=1, seconds=0.1))
    assert half["bytes_moved"] == pytest.approx(r["bytes_moved"] * BYTES_PER_ELEMENT["fp16"] / 4)
    assert half["fraction_of_peak"] is None and "fp16" in half["reason"]

    # the report: the cell in the roofline table (fraction of peak) and a roofline figure for the device
    from yolov12.report import render_report

    results = private_cache.parent / "results"
    (results / "runs" / "m").mkdir(parents=True)
    (results / "runs" / "m" / "latency.json").write_text(json.dumps({**result, "mlflow_run_id": "abc"}))
    paths = render_report(results, private_cache.parent / "report", "t", pdf=False)
    md = (private_cache.parent / "report" / "report.md").read_text()
    name = f"{cell['model']} (m)" if isinstance(cell.get("model"), str) else "m"  # a session's cell names its model
    row = next(line for line in md.splitlines() if line.startswith(f"| {name} | cpu"))
    assert f"| {100 * r['fraction_of_peak']:.1f} % |" in row and f"| {cell['median_ms']:.2f} |" in row
    figure = [f for f in paths["figures"] if "deployment_roofline_" + device_key("cpu", 1) in f]
    assert len(figure) == 1
    drawn = json.loads((private_cache.parent / "report" / "figure_data" / (Path(figure[0]).stem + ".json"))
                       .read_text())
    points = [ln for ax in drawn["axes"] for ln in ax["lines"] if ln["label"].startswith("eager")]
    assert points[0]["x"] == [pytest.approx(r["arithmetic_intensity"])]
