"""Jobs sharing one node, for real: the workflow on a simulated 8-GPU node with `--resources gpu=8` (every job takes
its devices through the node's locks; the simulation records them and computes on the CPU). No two running jobs
ever hold the same device, no job holds more devices than it declared, and a timing job runs alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from workflow_helpers import snakemake, write_tiny

DECLARED = {"train": 3, "evaluate": 2}
STUDY = {"study": "tiny", "table": "T", "title": "four variants", "scales": ["n"], "measure": ["train", "evaluate"],
         "variants": {"base": {}, "k3": {"knobs": {"pe_kernel": 3}}, "k5": {"knobs": {"pe_kernel": 5}},
                      "k9": {"knobs": {"pe_kernel": 9}}}}


@pytest.mark.slow
def test_simulated_8_gpu_node_never_shares_a_device(tmp_path):
    from yolov12.workflow import node

    cfg = write_tiny(tmp_path, STUDY, resources={k: {"gpus": n, "cpus": 1} for k, n in DECLARED.items()})
    snakemake(tmp_path, "--configfile", str(cfg), "--cores", "8", "--resources", "gpu=8",
              env={node.SIMULATE_ENV: "8"})
    holds = {}
    for e in node.read_ledger(tmp_path / "node"):
        holds.setdefault((e["pid"], e["job"]), {}).update(e)
    holds = [h for h in holds.values() if h["job"].split(":")[0] in DECLARED]
    print("\njob, devices, start, end (s from the first start):")
    t0 = min(h["start"] for h in holds)
    for h in sorted(holds, key=lambda h: h["start"]):
        print(f"  {h['job']:45s} {','.join(h['devices']):18s} {h['start'] - t0:6.1f} {h['end'] - t0:6.1f}")
    assert len(holds) == 8  # 4 trainings, 4 evaluations
    for h in holds:
        assert len(h["devices"]) == DECLARED[h["job"].split(":")[0]], h  # exactly what it declared
        assert set(h["devices"]) <= {f"sim{i}" for i in range(8)}
    concurrent = [(a, b) for i, a in enumerate(holds) for b in holds[i + 1:]
                  if a["start"] < b["end"] and b["start"] < a["end"]]
    assert concurrent, "no two jobs ran at once: the test would not see a shared device"
    assert node.overlaps(node.read_ledger(tmp_path / "node")) == []  # never the same device twice at once
    for path in (tmp_path / "results" / "tiny" / "runs").glob("*/train.json"):
        assert len(json.loads(path.read_text())["node"]["devices"]) == DECLARED["train"]


def test_a_timing_hold_waits_for_running_jobs_and_blocks_new_ones(tmp_path):
    """Real processes on the real locks: a shared hold runs; an exclusive one waits for it; a shared one asked for
    while the exclusive one waits or runs starts only after it."""
    code = ("import sys, time\nfrom yolov12.workflow import node\n"
            "with node.node_slot(sys.argv[1], sys.argv[2], sys.argv[3] == 'x', 0):\n"
            "    time.sleep(float(sys.argv[4]))\n")
    env = {**os.environ, "YOLOV12_NODE_LOCKS": str(tmp_path / "locks")}

    def start(job, exclusive, seconds):
        return subprocess.Popen([sys.executable, "-c", code, str(tmp_path), job, "x" if exclusive else "s",
                                 str(seconds)], env=env)

    procs = [start("train:a", False, 3.0)]
    time.sleep(1.0)
    procs.append(start("latency:b", True, 1.0))
    time.sleep(1.0)
    procs.append(start("train:c", False, 0.5))
    assert all(p.wait(timeout=120) == 0 for p in procs)
    from yolov12.workflow import node

    spans = {}
    for e in node.read_ledger(tmp_path / "locks"):
        spans.setdefault(e["job"], {}).update(e)
    a, b, c = spans["train:a"], spans["latency:b"], spans["train:c"]
    assert b["start"] >= a["end"] and c["start"] >= b["end"]  # the timer waited; the late job queued behind it
    assert node.overlaps(node.read_ledger(tmp_path / "locks")) == []


def test_who_runs_is_read_from_live_locks_so_a_killed_job_stops_counting(tmp_path):
    """A job killed by SIGKILL writes no end record; the kernel releases its locks, so it is not running (live_holds)
    and a later timing hold does not count it (others_during), while a live job is counted."""
    import signal

    from yolov12.workflow import node

    locks = tmp_path / "locks"
    code = ("import sys, time\nfrom yolov12.workflow import node\n"
            "with node.node_slot(None, sys.argv[1], False, 0):\n"
            "    open(sys.argv[2], 'w').close()\n    time.sleep(600)\n")
    env = {**os.environ, "YOLOV12_NODE_LOCKS": str(locks)}
    procs = {}
    for job in ("train:killed", "train:alive"):
        ready = tmp_path / f"{job}.ready"
        procs[job] = subprocess.Popen([sys.executable, "-c", code, job, str(ready)], env=env)
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert procs[job].poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
    try:
        os.environ[node.LOCKS_ENV] = str(locks)
        assert sorted(h["job"] for h in node.live_holds()) == ["train:alive", "train:killed"]
        procs["train:killed"].send_signal(signal.SIGKILL)
        procs["train:killed"].wait(timeout=30)
        assert [h["job"] for h in node.live_holds()] == ["train:alive"]
        ledger = node.read_ledger(locks, raw=True)
        assert not any(e["event"] == "end" for e in ledger)  # the killed job left no end record
        assert [e["job"] for e in node.read_ledger(locks)] == ["train:alive"]  # what a reader of holds sees
        # the latency job's own reading (a hold without an end record counts as running) no longer sees it
        from yolov12.workflow.latency_job import others_during as latency_others

        assert latency_others(tmp_path, {"pid": os.getpid(), "host": ledger[0]["host"], "start": 0.0},
                              time.time()) == ["train:alive"]
        hold = {"pid": os.getpid(), "host": ledger[0]["host"], "start": time.time() - 1}
        assert node.others_during(hold, time.time()) == ["train:alive"]
        procs["train:alive"].terminate()
        procs["train:alive"].wait(timeout=30)
        assert node.live_holds() == [] and node.others_during(hold, time.time()) == []
    finally:
        os.environ.pop(node.LOCKS_ENV, None)
        for p in procs.values():
            if p.poll() is None:
                p.kill()


def test_locks_are_node_wide_not_per_results_folder(monkeypatch):
    from yolov12.workflow import node

    monkeypatch.delenv(node.LOCKS_ENV, raising=False)
    assert node.lock_dir("/a/results") == node.lock_dir("/b/other") == node.NODE_DIR
