"""CUDA tests of the latency harness (skipped without a CUDA device; tests/gpu/check.sh runs them on a GPU).

The backend matrix on a real GPU: each cell passes the correctness gate against the fp32 reference in fp16 / bf16,
records the kernel that actually ran, the GPU's identity (UUID) and the GPU's conditions.
"""

import pytest
import torch

from yolov12.latency import measure
from yolov12.latency.names import KERNELS

pytestmark = pytest.mark.gpu
PLAN = dict(imgszs=[128], warmup_iters=2, warmup_s=0.0, min_iters=5, min_s=0.0, threads=1, verbose=False)
BACKENDS = ["naive", "sdpa_noflash", "sdpa", "flash_attn"]


@pytest.fixture(scope="module")
def cells():
    result = measure({"scale": "n"}, devices=["cuda:0"], precisions=["fp16", "bf16"], backends=BACKENDS, **PLAN)
    return {(c["precision"], c["backend"]): c for c in result["cells"]}, result["env"]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_backends_pass_the_gate_and_name_their_kernel(cells, precision):
    by, _ = cells
    for backend in ("naive", "sdpa_noflash", "sdpa"):
        c = by[(precision, backend)]
        assert c["status"] == "ok", (backend, c["reason"])
        assert c["max_rel_err"] <= c["tolerance"]
        assert c["kernel"] is not None and set(c["kernel"].split("+")) <= set(KERNELS), c
    assert by[(precision, "naive")]["kernel"] == "naive_softmax"
    noflash = by[(precision, "sdpa_noflash")]["kernel"]
    assert "flash" not in noflash and noflash.startswith("sdpa_"), noflash
    assert by[(precision, "sdpa")]["kernel"].startswith("sdpa_")


def test_flash_attn_cell_is_unavailable_with_reason_or_runs_the_package(cells):
    by, _ = cells
    from yolov12.nn.attention import flash_attn_unavailable

    reason = flash_attn_unavailable("cuda:0", torch.float16)
    c = by[("fp16", "flash_attn")]
    if reason:
        assert c["status"] == "unavailable" and c["reason"], c
    else:
        assert c["status"] == "ok" and c["kernel"] == "flash_attn", c


def test_cells_carry_gpu_identity_and_conditions(cells):
    by, env = cells
    c = by[("fp16", "sdpa")]
    assert c["device_uuid"] and c["device_uuid"] == env["gpus"][0]["uuid"]
    gpu = c["conditions"]["end"]["gpu"]
    assert gpu["uuid"] == c["device_uuid"]
    assert isinstance(c["contended"], bool) and bool(c["contention"]) == c["contended"]
    assert c["timer"] == "cuda_events" and c["samples_n"] == c["iters"]


def test_cudagraph_cells_report_the_replayed_kernel():
    result = measure({"scale": "n"}, devices=["cuda:0"], precisions=["fp16"], runtimes=["eager", "cudagraphs"],
                     backends=["sdpa"], **PLAN)
    eager, graph = result["cells"]
    assert eager["status"] == graph["status"] == "ok", (eager["reason"], graph["reason"])
    assert graph["kernel"] == eager["kernel"] and "replays" in graph["kernel_note"]
