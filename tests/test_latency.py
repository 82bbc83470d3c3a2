"""Latency harness: statistics, correctness gate, environment capture, unavailable cells, real CPU runs.

Real runs of yolov12n at 64x64 with tiny iteration counts; no assertion is made on a timing value.
"""

import copy
import json
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

import yolov12
from yolov12.errors import UserError
from yolov12.latency import (SCHEMA_COLUMNS, CellContext, Prepared, TimingPlan, capture_env, check, cv_of,
                             decode_samples, detection_match, export_onnx, measure, output_errors, percentile,
                             primary_outputs, ratio_with_ci, register_runtime, result_filename, run_timed, summarize,
                             throughput_ips, write_results)
from yolov12.cli import main as cli_main
from yolov12.latency.cli import add_latency_parser
from yolov12.models import torch_model

TINY = dict(imgszs=[64], warmup_iters=1, warmup_s=0.0, min_iters=3, min_s=0.0, threads=1, verbose=False)
STATS = ("mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms", "std_ms", "cv", "throughput_ips", "iters")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return torch_model("yolov12", "n").eval()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="module")
def cpu_run(model, workdir):
    """One real run: eager + onnxruntime, forward scope, plus impossible cells on this machine (exports kept)."""
    return measure(model, runtimes=["eager", "onnxruntime", "cudagraphs", "tensorrt"], workdir=workdir, **TINY)


# ------------------------------------------------------------------------------------------------------ statistics
def test_percentiles_on_known_array():
    a = list(range(1, 101))  # 1..100
    assert percentile(a, 50) == 50.5
    assert percentile(a, 90) == pytest.approx(90.1)
    assert percentile(a, 99) == pytest.approx(99.01)
    assert percentile([3.0], 95) == 3.0
    rng = np.random.default_rng(0).random(37)
    for q in (0, 12.5, 50, 90, 95, 99, 100):
        assert percentile(rng, q) == pytest.approx(np.percentile(rng, q))
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_statistics_on_known_array():
    s = summarize([10.0, 20.0, 30.0, 40.0], batch=4)
    assert s["mean_ms"] == 25.0 and s["median_ms"] == 25.0 and s["iters"] == 4
    lo, hi = s["median_ci_ms"]
    assert 10.0 <= lo <= 25.0 <= hi <= 40.0 and s["ci_level"] == 0.95
    assert s["std_ms"] == pytest.approx(np.std([10, 20, 30, 40], ddof=1))
    assert s["cv"] == pytest.approx(s["std_ms"] / 25.0)
    assert s["p90_ms"] == pytest.approx(37.0) and s["p95_ms"] == pytest.approx(38.5)
    assert s["p99_ms"] == pytest.approx(39.7)
    assert s["throughput_ips"] == pytest.approx(4 * 1000 / 25.0)  # images per second
    one = summarize([5.0])
    assert one["std_ms"] == 0.0 and one["cv"] == 0.0
    assert cv_of([100.0, 100.0, 100.0]) == 0.0
    assert cv_of([99.0, 100.0, 101.0]) == pytest.approx(0.01)


def test_throughput_is_defined_by_the_median():
    skewed = [10.0, 10.0, 10.0, 10.0, 1000.0]  # one stalled iteration moves the mean, not the median
    s = summarize(skewed, batch=8)
    assert s["median_ms"] == 10.0 and s["mean_ms"] == 208.0
    assert s["throughput_ips"] == throughput_ips(10.0, 8) == 800.0


def test_timing_loop_reaches_both_minimum_count_and_duration():
    calls = []
    run = run_timed(lambda: calls.append(1), TimingPlan(warmup_iters=4, warmup_s=0.0, min_iters=7, min_s=0.0))
    assert run["warmup_iters_done"] == 4 and len(run["times_ms"]) == 7 and len(calls) == 11
    run = run_timed(lambda: None, TimingPlan(warmup_iters=0, warmup_s=0.02, min_iters=2, min_s=0.05))
    assert len(run["times_ms"]) >= 2 and run["timed_s"] >= 0.05 and run["warmup_s_done"] >= 0.02
    run = run_timed(lambda: None, TimingPlan(warmup_iters=0, warmup_s=0.0, min_iters=10**9, min_s=0.0, max_s=0.02))
    assert run["capped"]
    with pytest.raises(ValueError):
        TimingPlan(min_iters=0)


# ------------------------------------------------------------------------------------------------------------ gate
def test_output_errors_are_channelwise_relative():
    ref = torch.zeros(1, 3, 5)
    ref[0, 0] = 600.0  # a box coordinate channel (pixels)
    ref[0, 1] = 0.01  # a class-probability channel
    out = ref.clone()
    out[0, 1, 2] += 0.001  # 10% of that channel's scale, tiny next to the box channel
    max_abs, max_rel = output_errors((out,), (ref,))
    assert max_abs == pytest.approx(0.001, rel=1e-4) and max_rel == pytest.approx(0.1, rel=1e-3)
    assert not check((out,), (ref,), "fp32")["passed"]
    assert check((out,), (ref,), "fp32", tolerances={"fp32": 0.2})["passed"]
    bad = ref.clone()
    bad[0, 0, 0] = float("nan")
    assert output_errors((bad,), (ref,))[1] == float("inf")


def test_detection_match_is_loose_on_boxes():
    ref = [torch.tensor([[0, 0, 10, 10, 0.9, 1], [20, 20, 40, 40, 0.8, 2]], dtype=torch.float32)]
    near = [ref[0] + torch.tensor([0.5, 0.5, 0.5, 0.5, -0.01, 0])]
    assert detection_match(near, ref) == 1.0
    wrong_class = [ref[0].clone()]
    wrong_class[0][:, 5] = 7
    assert detection_match(wrong_class, ref) == 0.0
    assert detection_match([ref[0][:1]], ref) == 0.5
    assert detection_match([torch.zeros(0, 6)], [torch.zeros(0, 6)]) == 1.0


def test_perturbed_onnx_model_fails_the_gate_and_is_not_timed(model, cpu_run, workdir, tmp_path):
    (path,) = workdir.glob("*.onnx")  # the export that passed the gate in cpu_run
    assert cpu_run["cells"][1]["runtime_info"]["onnx_file"] == str(path)
    g = onnx.load(str(path))
    conv_weights = {n.input[1] for n in g.graph.node if n.op_type == "Conv"}
    last = [init for init in g.graph.initializer if init.name in conv_weights][-1]  # a head conv
    w = numpy_helper.to_array(last) * 1.5
    last.CopyFrom(numpy_helper.from_array(w.astype(np.float32), last.name))
    bad = tmp_path / "perturbed.onnx"
    onnx.save(g, str(bad))
    ort = measure(model, runtimes=["onnxruntime"], onnx_file=bad, **TINY)["cells"][0]
    assert ort["status"] == "failed" and "correctness gate" in ort["reason"]
    assert ort["max_rel_err"] > ort["tolerance"] and ort["max_abs_err"] > 0
    assert ort["iters"] is None and ort["median_ms"] is None  # not timed


def test_export_onnx_is_usable_directly(model, tmp_path):
    path = export_onnx(copy.deepcopy(model).fuse(verbose=False), tmp_path / "m.onnx", imgsz=64, simplify=False)
    g = onnx.load(str(path))
    assert [o.name for o in g.graph.output] == ["output0"] and g.graph.input[0].name == "images"


def test_wrong_precision_runtime_fails_the_fp32_gate(model):
    def bf16_claiming_fp32(base, ctx: CellContext) -> Prepared:
        m = copy.deepcopy(base).to(torch.bfloat16).eval()
        return Prepared(fn=lambda x: tuple(o.float() for o in primary_outputs(m(x.to(torch.bfloat16)))), sync=None,
                        timer="perf_counter")

    register_runtime("test-bf16-as-fp32", bf16_claiming_fp32)
    cell = measure(model, runtimes=["test-bf16-as-fp32"], **TINY)["cells"][0]
    assert cell["status"] == "failed" and cell["max_rel_err"] > 1e-3 and cell["iters"] is None


# ----------------------------------------------------------------------------------------------- samples & CIs
def test_samples_are_kept_whole_and_intervals_bracket_the_median(cpu_run):
    for c in (c for c in cpu_run["cells"] if c["status"] == "ok"):
        a = decode_samples(c)
        assert a.size == c["samples_n"] == c["iters"]
        again = summarize(a, c["batch"])  # the statistics are those of exactly the samples kept
        assert all(again[k] == c[k] for k in ("median_ms", "p90_ms", "p99_ms", "mean_ms", "median_ci_ms"))
        lo, hi = c["median_ci_ms"]
        assert a.min() <= lo <= c["median_ms"] <= hi <= a.max()
        assert c["imgsz_hw"] == [64, 64] and c["warmup_iters_done"] >= 1
    unavailable = [c for c in cpu_run["cells"] if c["status"] != "ok"]
    assert unavailable and all(c["samples_b64"] is None and c["median_ci_ms"] is None for c in unavailable)
    with pytest.raises(UserError, match="samples"):
        decode_samples(unavailable[0])


def test_ratio_with_ci_and_a_refused_sample_count(cpu_run):
    eager, ort = (c for c in cpu_run["cells"] if c["status"] == "ok")
    same = ratio_with_ci(eager, eager)
    assert same["ratio"] == 1.0 and same["ci"][0] <= 1.0 <= same["ci"][1] and not same["excludes_1"]
    r = ratio_with_ci(eager, ort)
    assert r["ratio"] == pytest.approx(eager["median_ms"] / ort["median_ms"], rel=1e-6)
    assert r["ci"][0] <= r["ratio"] <= r["ci"][1] and r["n_a"] == eager["iters"]
    with pytest.raises(UserError, match="samples_n"):
        decode_samples({**eager, "samples_n": eager["samples_n"] + 1})


# ---------------------------------------------------------------------------------------- kernels, runtimes, CLI
def test_backend_matrix_records_the_kernel_that_ran(tmp_path):
    out = tmp_path / "b.json"
    rc = cli_main(["latency", "--scale", "n", "--imgsz", "64", "--backend", "naive", "sdpa_noflash", "sdpa",
                   "flash_attn", "--warmup-iters", "1", "--warmup-s", "0", "--min-iters", "2", "--min-s", "0",
                   "--threads", "1", "--processes", "1", "--json", str(out), "--quiet"])
    assert rc == 0
    cells = {c["backend"]: c for c in json.loads(out.read_text())["cells"]}
    # the real aten ops on the CPU (torch.profiler): explicit softmax, SDPA's math kernel, SDPA's CPU flash kernel
    expected = {"naive": "naive_softmax", "sdpa_noflash": "sdpa_math", "sdpa": "sdpa_flash_cpu"}
    for backend, kernel in expected.items():
        c = cells[backend]
        assert c["status"] == "ok", c["reason"]
        assert c["kernel"] == kernel and c["kernel_ops"] and c["attn_backend"] == backend, c["kernel_ops"]
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in cells["sdpa"]["kernel_ops"]
    assert cells["flash_attn"]["status"] == "unavailable" and cells["flash_attn"]["kernel"] is None
    with pytest.raises(UserError, match="backend"):
        measure(torch.nn.Identity(), backends=["fast"], **TINY)


def test_a_registered_runtime_is_a_cli_choice(tmp_path):
    yolov12.register_runtime("eager-alias", "yolov12.latency.runtimes:build_eager")
    parser = __import__("argparse").ArgumentParser()
    add_latency_parser(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["latency", "--runtime", "eager-alias"]).runtime == ["eager-alias"]
    # from another process: a plugin module named in YOLOV12_PLUGINS registers at parse time
    (tmp_path / "my_runtime_plugin.py").write_text(textwrap.dedent("""
        from yolov12.registry import register_runtime
        register_runtime("plugin-rt", "yolov12.latency.runtimes:build_eager")
    """))
    import os

    env = {**os.environ, "YOLOV12_PLUGINS": "my_runtime_plugin",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(__import__("pathlib").Path(__file__).parents[1])])}
    out = subprocess.run([sys.executable, "-m", "yolov12", "latency", "--help"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "plugin-rt" in out.stdout, out.stderr[-2000:]


# ------------------------------------------------------------------------------------------- environment & files
def test_environment_capture_and_file_names(cpu_run, tmp_path):
    env = capture_env(threads=2)
    for key in ("cpu_model", "cpu_logical", "cpu_physical_cores", "cuda_available", "gpus", "driver", "cudnn",
                "cuda_runtime", "nvidia_smi", "software", "threads", "timestamp", "hostname", "loadavg"):
        assert key in env, key
    for key in ("torch", "onnxruntime", "tensorrt", "ultralytics", "python"):
        assert key in env["software"], key
    # hardware identity: the CPU's vector ISA as /proc/cpuinfo and PyTorch's dispatcher see it; GPUs by UUID
    assert isinstance(env["cpu_isa"], list) and env["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(env["nvml_gpus"], list) and all(g["uuid"] for g in env["gpus"])
    assert env["threads"] == 2 and env["cpu_model"]
    name = result_filename(env, "cuda:0", "fp16")
    assert name.startswith("latency_") and name.endswith("_cuda0_fp16.json")
    cpu_name = result_filename(env, "cpu", "bf16", tag="yolov12n")
    assert cpu_name.endswith("_cpu_bf16.json") and "yolov12n" in cpu_name
    paths = write_results(cpu_run, out_dir=tmp_path / "out", json_file=tmp_path / "all.json")
    names = sorted(p.name for p in paths)
    assert names[0] == "all.json" and names[1] == result_filename(cpu_run["env"], "cpu", "fp32")
    data = json.loads((tmp_path / "all.json").read_text())
    assert set(data) >= {"env", "cells"} and len(data["cells"]) == len(cpu_run["cells"])


# ---------------------------------------------------------------------------------------- real runs, unavailable
def test_real_cpu_measure_eager_and_onnxruntime(cpu_run):
    cells = {c["runtime"]: c for c in cpu_run["cells"]}
    for rt in ("eager", "onnxruntime"):
        c = cells[rt]
        assert c["status"] == "ok", c["reason"]
        for col in SCHEMA_COLUMNS + ("max_abs_err",):
            assert col in c, col
        assert all(c[k] is not None for k in STATS)
        assert c["iters"] >= 3 and c["threads"] == cpu_run["method"]["threads"]
        assert c["device"] == "cpu" and c["precision"] == "fp32" and c["scope"] == "forward" and c["imgsz"] == 64
        assert c["median_ms"] <= c["p90_ms"] <= c["p95_ms"] <= c["p99_ms"] <= c["max_ms"]
        assert c["max_rel_err"] <= c["tolerance"]
    assert cells["eager"]["max_abs_err"] == 0.0  # the reference itself
    assert cells["eager"]["attn_backend"] == "auto" and cells["eager"]["attn_kernel"] == "sdpa"
    assert cells["eager"]["kernel"] == "sdpa_flash_cpu"  # what auto -> sdpa actually ran on this CPU
    assert cells["onnxruntime"]["kernel"] is None and "ONNX Runtime" in cells["onnxruntime"]["kernel_note"]
    for c in (cells["eager"], cells["onnxruntime"]):
        assert isinstance(c["contended"], bool) and c["conditions"]["start"]["cpu"]["ncpu"] >= 1


def test_impossible_cells_are_unavailable_with_reason_and_the_run_goes_on(cpu_run):
    cells = {c["runtime"]: c for c in cpu_run["cells"]}
    assert cells["cudagraphs"]["status"] == "unavailable" and "CUDA" in cells["cudagraphs"]["reason"]
    assert cells["tensorrt"]["status"] == "unavailable" and cells["tensorrt"]["reason"]
    assert cells["eager"]["status"] == "ok"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_cuda_cells_without_cuda_are_unavailable(model):
    result = measure(model, devices=["cuda:0", "cpu"], backends=["flash_attn", "sdpa"], **TINY)
    by = {(c["device"], c["attn_backend"]): c for c in result["cells"]}
    assert all(c["status"] == "unavailable" for (d, _), c in by.items() if d == "cuda:0")
    assert "CUDA" in by[("cuda:0", "sdpa")]["reason"]
    assert by[("cpu", "flash_attn")]["status"] == "unavailable" and "flash" in by[("cpu", "flash_attn")]["reason"]
    assert by[("cpu", "sdpa")]["status"] == "ok"  # the run went on


def test_end2end_scope_and_cli(tmp_path):
    out = tmp_path / "r.json"
    rc = cli_main(["latency", "--scale", "n", "--imgsz", "64", "--scope", "end2end", "--runtime", "eager",
                   "--precision", "fp32", "bf16", "--warmup-iters", "1", "--warmup-s", "0", "--min-iters", "2",
                   "--min-s", "0", "--threads", "1", "--processes", "1", "--json", str(out), "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    data = json.loads(out.read_text())
    assert [c["precision"] for c in data["cells"]] == ["fp32", "bf16"]
    for c in data["cells"]:
        assert c["status"] == "ok", c["reason"]
        assert c["scope"] == "end2end" and c["threads"] == 1 and c["det_match"] == 1.0
    assert (tmp_path / result_filename(data["env"], "cpu", "bf16")).is_file()


def test_checkpoint_via_cli(tmp_path):
    ckpt = tmp_path / "tiny.pt"
    yolov12.build("yolov12", "n").save(str(ckpt))
    out = tmp_path / "ck.json"
    assert cli_main(["latency", "--checkpoint", str(ckpt), "--imgsz", "64", "--backend", "naive", "--warmup-iters",
                     "1", "--warmup-s", "0", "--min-iters", "2", "--min-s", "0", "--threads", "1", "--processes", "1", "--json", str(out),
                     "--quiet"]) == 0
    data = json.loads(out.read_text())
    assert data["model"]["checkpoint"] == str(ckpt) and data["model"]["name"] == "tiny"
    (cell,) = data["cells"]
    assert cell["status"] == "ok" and cell["attn_backend"] == "naive" and cell["attn_kernel"] == "naive"


def test_parser_registration():
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_latency_parser(sub)
    args = parser.parse_args(["latency", "--scale", "s", "--knob", "area=1", "--device", "cpu", "cuda:0",
                              "--precision", "fp32", "fp16", "--runtime", "eager", "onnxruntime", "--backend", "naive",
                              "--min-iters", "10", "--min-s", "0.5"])
    assert args.devices == ["cpu", "cuda:0"] and args.scales == ["s"] and args.knob == [("area", 1)]
    assert args.min_s == 0.5
    assert callable(args.func)


# ------------------------------------------------------------------------------------------------------------ GPU
@pytest.mark.gpu
def test_gpu_cells_run_and_pass_the_gate(model):
    result = measure(model, devices=["cuda:0"], precisions=["fp32", "fp16"], runtimes=["eager", "cudagraphs"],
                     **TINY)
    for c in result["cells"]:
        assert c["status"] == "ok", (c["runtime"], c["precision"], c["reason"])
        assert c["timer"] == "cuda_events" and c["device_name"]
