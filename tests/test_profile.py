"""Complexity profile: true FLOPs (attention matmuls included), attention shares, params, CLI."""

import yolov12  # noqa: F401  (offline defaults + model registration first)

import json

import pytest
import torch
from ultralytics.nn.tasks import DetectionModel

from yolov12.complexity import summary
from yolov12.complexity.profile import profile
from yolov12.latency.cli import main as cli_main
from yolov12.models import torch_model

FAST = dict(min_iters=2, min_s=0.0, warmup_iters=1, threads=1)


@pytest.fixture(scope="module")
def model_n():
    return torch_model("yolov12", "n").eval()


@pytest.fixture(scope="module")
def prof_n(model_n):
    return profile(model_n, imgsz=64, **FAST)


def test_true_flops_exceed_paper_flops_by_the_attention_matmuls(prof_n, model_n):
    p = prof_n
    assert p["gflops_true"] > p["gflops"] > 0
    assert p["gflops_attn_matmul"] > 0
    # FlopCounterMode counts exactly the paper's conv/linear FLOPs plus QK^T and AV
    assert abs(p["gflops_unexplained"]) < 1e-9
    assert p["gflops"] == pytest.approx(summary(model_n, 64)["gflops"])
    assert p["n_attention_modules"] == 8 and len(p["modules"]) == 8


def test_attention_shares_are_fractions(prof_n):
    p = prof_n
    assert 0 < p["attn_matmul_share"] < p["attn_flops_share"] < 1
    assert 0 < p["attn_latency_share"] < 1
    assert p["attn_latency_ms"] > 0 and p["latency_ms"] > 0
    assert all(m["ms"] is not None and m["gflops"] > m["gflops_matmul"] > 0 for m in p["modules"])
    assert p["params"] > p["params_fused"] == p["params_profiled"]
    assert p["peak_mem_mb"] is None and "CUDA" in p["peak_mem_reason"]


def test_global_attention_costs_more_true_flops_same_paper_flops(prof_n):
    area4 = prof_n
    glob = profile({"scale": "n", "knobs": {"area": 1}}, imgsz=64, timing=False, threads=1)
    assert glob["gflops"] == pytest.approx(area4["gflops"])
    assert glob["gflops_attn_matmul"] > area4["gflops_attn_matmul"]
    # the P4 stage (4 layers) goes from 4 areas to 1: its matmul FLOPs grow 4x, the P5 stage is global in both
    p4 = [m for m in area4["modules"] if m["input_shape"][-1] == 4]
    p4_glob = [m for m in glob["modules"] if m["input_shape"][-1] == 4]
    assert sum(m["gflops_matmul"] for m in p4_glob) == pytest.approx(4 * sum(m["gflops_matmul"] for m in p4))


def test_backends_and_ultralytics_yolo12_count_the_same_flops(prof_n, model_n):
    ours = prof_n  # backend auto -> SDPA on the CPU
    naive = profile(model_n, imgsz=64, backend="naive", timing=False, threads=1)
    theirs = profile(DetectionModel("yolo12n.yaml", verbose=False).eval(), imgsz=64, timing=False, threads=1)
    assert naive["gflops_true"] == pytest.approx(ours["gflops_true"], rel=1e-12)
    assert theirs["gflops_true"] == pytest.approx(ours["gflops_true"], rel=1e-12)
    assert theirs["n_attention_modules"] == 8 and theirs["attn_backend"] == "none"


def test_profile_cli_writes_json(tmp_path):
    out = tmp_path / "p.json"
    assert cli_main(["profile", "--scale", "n", "--imgsz", "64", "96", "--no-timing", "--threads", "1",
                     "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [p["imgsz"] for p in data["profiles"]] == [64, 96] and "cpu_model" in data["env"]


@pytest.mark.gpu
def test_cuda_profile_reports_peak_memory():
    p = profile({"scale": "n"}, imgsz=128, device="cuda:0", precision="fp16", **FAST)
    assert p["peak_mem_mb"] > 0 and p["activation_peak_mb"] > 0
    assert 0 < p["attn_latency_share"] < 1
    assert torch.cuda.is_available()
