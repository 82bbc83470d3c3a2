"""Complexity profile: true FLOPs (attention matmuls included), attention shares, params, CLI."""

import json

import pytest
import torch
from ultralytics.nn.tasks import DetectionModel

from yolov12.complexity import conv_gflops, fused, summary
from yolov12.latency.profile import profile
from yolov12.latency import measure, peer_spec, peer_table, peers
from yolov12.cli import main as cli_main
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


# ----------------------------------------------------------------------------------------------------- peers
PEER_GFLOPS_REL_TOL = 0.03  # Ultralytics' definitions vs the paper's FLOPs column (measured: <= 1.9 %, YOLOv9-S)


def test_peer_list_covers_the_papers_tables():
    names = peers()
    table4 = peers("Table 4")
    assert table4 == ("yolov9t", "yolov9s", "yolov9m", "yolov9c", "yolov9e", "yolov10n", "yolov10s", "yolov10m",
                      "yolov10b", "yolo11n", "yolo11s", "yolo11m", "yolo11l", "yolo11x")
    assert set(table4) < set(names) and {"yolov10l", "yolov10x", "yolov8n", "yolov8x", "yolov6n"} <= set(names)
    assert len(set(names)) == len(names) and all(p["paper_gflops"] for p in peer_table())


def test_conv_flops_scale_with_the_image_area():
    """Why the peer test may count at 64 px: every conv output has (imgsz / stride)^2 positions when imgsz is a
    multiple of the largest stride, so paper-convention GFLOPs at 640 = 100 x those at 64 (checked on YOLOv9-T,
    whose ADown blocks pool to odd sizes internally)."""
    m = fused(peer_spec("yolov9t").build())
    assert conv_gflops(m, 640) == pytest.approx(100 * conv_gflops(m, 64), rel=1e-12)


@pytest.mark.parametrize("name", peers())
def test_peer_builds_is_timed_and_matches_the_papers_flops(name):
    rec = next(p for p in peer_table() if p["name"] == name)
    spec = peer_spec(name)
    model = spec.build()
    assert spec.name == name and spec.task == "detect"
    cell = measure(model, imgszs=[32], warmup_iters=0, warmup_s=0.0, min_iters=2, min_s=0.0, threads=1,
                   verbose=False)["cells"][0]
    assert cell["status"] == "ok", cell["reason"]
    assert cell["samples_n"] == cell["iters"] >= 2 and cell["backend"] == "none"
    gflops = 100 * conv_gflops(fused(model), 64)  # = at 640 (test above)
    if rec["flops_comparable"]:
        assert gflops == pytest.approx(rec["paper_gflops"], rel=PEER_GFLOPS_REL_TOL), (name, gflops)
    else:  # Ultralytics' YOLOv6 is not the paper's YOLOv6-3.0 (M: 160.6 vs 85.8 GFLOPs): the record says why
        assert "not the official" in rec["note"]


def test_profile_of_a_peer_by_its_yaml_name():
    p = profile("yolov10n.yaml", imgsz=64, timing=False, threads=1)
    assert p["model"] == "yolov10n" and p["gflops"] == pytest.approx(6.696 / 100, rel=1e-3)
    assert p["gflops_true"] > p["gflops"]  # YOLOv10's PSA attention: matmuls the paper convention leaves out


@pytest.mark.gpu
def test_cuda_profile_reports_peak_memory():
    p = profile({"scale": "n"}, imgsz=128, device="cuda:0", precision="fp16", **FAST)
    assert p["peak_mem_mb"] > 0 and p["activation_peak_mb"] > 0
    assert 0 < p["attn_latency_share"] < 1
    assert torch.cuda.is_available()
