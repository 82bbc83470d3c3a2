"""Conditions of a measurement: snapshots, the contention verdict, its record in every timed cell.

A real spinning process must be seen. The machine may be busy with other work while the tests run, so the "idle"
test checks that the recorded numbers are consistent with each other, never that nothing was flagged.
"""

import subprocess
import sys
import time

import pytest
import torch

from yolov12.latency import judge, measure, snapshot
from yolov12.latency.conditions import OTHER_CPU_MAX, conditions_record, verdict
from yolov12.latency.hardware import cpu_isa, normalise_uuid, nvml_gpus, torch_gpus

SPIN = "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 30:\n    pass\n"


@pytest.fixture
def spinner():
    """A real process that keeps one CPU busy (ended after the test, at most 30 s)."""
    proc = subprocess.Popen([sys.executable, "-c", SPIN])
    time.sleep(0.3)  # let it start spinning
    yield proc
    proc.kill()
    proc.wait()


def _window(seconds: float, device="cpu"):
    start = snapshot(device)
    time.sleep(seconds)  # this process idles: whatever keeps the CPUs busy is someone else
    return start, snapshot(device)


def test_a_busy_process_is_flagged(spinner):
    start, end = _window(1.5)
    contended, reason = judge(start, end)
    rec = conditions_record(start, end)
    # the spinner alone keeps one of the CPUs busy for the whole window (steal, if any, is flagged on its own)
    assert rec["other_cpu_s"] + rec["steal_frac"] * rec["wall_s"] * rec["ncpu"] >= 0.8 * rec["wall_s"]
    assert contended and ("CPUs busy" in reason or "steal" in reason), reason
    assert rec["own_cpu_s"] < 0.2 * rec["wall_s"]


def test_idle_window_numbers_are_consistent():
    start, end = _window(0.5)
    rec = conditions_record(start, end)
    assert 0.45 <= rec["wall_s"] < 5 and rec["ncpu"] == start["cpu"]["ncpu"] >= 1
    assert 0.0 <= rec["other_cpu_frac"] <= 1.0 + rec["other_cpu_frac_resolution"]
    assert rec["other_cpu_s"] == pytest.approx(rec["other_cpu_frac"] * rec["wall_s"] * rec["ncpu"])
    contended, reason = judge(start, end)
    cpu_flag = rec["other_cpu_frac"] - rec["other_cpu_frac_resolution"] > OTHER_CPU_MAX
    assert (contended, reason) == verdict(rec) and contended >= cpu_flag and bool(reason) == contended
    assert start["loadavg"] is None or len(start["loadavg"]) == 3


def test_gpu_conditions_are_judged():
    """GPU rules on recorded snapshots: another process on the device, clocks slowed for power."""
    base = {"monotonic_s": 0.0, "process_cpu_s": 0.0, "pid": 10, "device": "cuda:0", "loadavg": None, "cpu": None}
    gpu = {"available": True, "processes": [{"pid": 10, "used_mb": 500}], "clock_event_reasons": 0x1}
    start = {**base, "gpu": gpu}
    end = {**base, "monotonic_s": 2.0, "gpu": {**gpu, "processes": [{"pid": 10}, {"pid": 77}],
                                                  "clock_event_reasons": 0x4}}
    contended, reason = judge(start, end)
    assert contended and "pids [77]" in reason and "sw_power_cap" in reason
    quiet = {**base, "monotonic_s": 2.0, "gpu": gpu}
    assert judge(start, quiet) == (False, "")


def test_every_timed_cell_records_its_conditions():
    from yolov12.models import torch_model

    cell = measure(torch_model("yolov12", "n").eval(), imgszs=[64], warmup_iters=1, warmup_s=0.0, min_iters=3,
                   min_s=0.0, threads=1, verbose=False)["cells"][0]
    assert cell["status"] == "ok"
    rec = cell["conditions"]
    assert rec["start"]["monotonic_s"] < rec["end"]["monotonic_s"] and rec["wall_s"] >= cell["timed_s"] * 0.9
    assert (cell["contended"], cell["contention"]) == verdict(rec)
    assert rec["own_cpu_s"] > 0  # the timed forwards ran in this process


def test_hardware_identity():
    isa = cpu_isa()
    assert isa["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(isa["cpu_isa"]) <= {"sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw",
                                   "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
                                   "amx_int8", "amx_fp16"}
    assert normalise_uuid("GPU-6F2C0A1B-0000-1111-2222-333344445555") == "6f2c0a1b-0000-1111-2222-333344445555"
    assert normalise_uuid("6f2c0a1b-0000-1111-2222-333344445555") == "6f2c0a1b-0000-1111-2222-333344445555"


@pytest.mark.gpu
def test_gpu_identity_and_snapshot_by_uuid():
    gpus = torch_gpus()
    assert gpus and all(g["uuid"] for g in gpus)
    nv = {normalise_uuid(g["uuid"]) for g in nvml_gpus()}
    if nv:  # NVML present: every torch device is found there by UUID
        assert all(g["nvml"] is not None and g["uuid"] in nv for g in gpus)
    torch.zeros(1, device="cuda:0")
    start, end = _window(0.2, "cuda:0")
    assert end["gpu"]["uuid"] == gpus[0]["uuid"]
    if end["gpu"]["available"]:
        assert end["gpu"]["sm_clock_mhz"] is not None and isinstance(end["gpu"]["processes"], list)
    contended, reason = judge(start, end)
    assert bool(reason) == contended
