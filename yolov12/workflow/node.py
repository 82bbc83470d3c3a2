"""Jobs sharing one node: each job holds its own devices, and a timing job runs alone.

Snakemake's ``--resources gpu=N`` bounds how MANY devices running jobs declare, not WHICH: on a local node each job
therefore takes its devices here, through one lock file per device (``flock``: released by the kernel when the
process dies, even by kill -9), and exposes only those to itself (``CUDA_VISIBLE_DEVICES`` by UUID, so Ultralytics'
``0,1,...`` are its own devices). Under SLURM the allocation's devices are the job's and nothing is locked.

Timing isolation: every job holds the node lock shared; a timing job (latency, profile) holds it exclusively, so no
other job of the workflow runs on the node while a cell is timed. A gate lock makes a waiting timing job block new
jobs from starting (no starvation). Every hold is appended to ``ledger.jsonl`` (job, pid, devices, start, end):
the record of what ran when, which the timing results and the tests read.

The lock folder is node-local (``/tmp``), one per results folder; ``YOLOV12_NODE_LOCKS`` overrides it.
``YOLOV12_SIMULATE_GPUS=N`` simulates an N-device node (the device assignment is recorded, CUDA is not touched).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SIMULATE_ENV = "YOLOV12_SIMULATE_GPUS"
LOCKS_ENV = "YOLOV12_NODE_LOCKS"
ASSIGNED_ENV = "YOLOV12_DEVICES"  # the devices a job holds, as recorded (simulated or real)


def lock_dir(results_dir: str | Path) -> Path:
    if os.environ.get(LOCKS_ENV):
        path = Path(os.environ[LOCKS_ENV])
    else:
        key = hashlib.sha1(str(Path(results_dir).resolve()).encode()).hexdigest()[:12]
        path = Path("/tmp") / f"yolov12-node-{os.getuid()}" / key
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)


def _ledger(directory: Path, entry: dict[str, Any]) -> None:
    line = (json.dumps(entry, sort_keys=True) + "\n").encode()
    fd = os.open(directory / "ledger.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        os.write(fd, line)  # one write of a short line with O_APPEND: whole lines, whatever the concurrency
    finally:
        os.close(fd)


def read_ledger(directory: str | Path) -> list[dict[str, Any]]:
    path = Path(directory) / "ledger.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def node_devices() -> list[str]:
    """Device ids of this node that jobs share: simulated ones, else NVML UUIDs (CUDA_VISIBLE_DEVICES honoured)."""
    if os.environ.get(SIMULATE_ENV):
        return [f"sim{i}" for i in range(int(os.environ[SIMULATE_ENV]))]
    from .hardware import visible_gpus

    return [g["uuid"] for g in visible_gpus()]


def simulated() -> bool:
    return bool(os.environ.get(SIMULATE_ENV))


def on_cpu(spec: dict[str, Any]) -> dict[str, Any]:
    """A job spec with its device strings replaced by 'cpu' (the simulation keeps the declared GPU count)."""
    spec = json.loads(json.dumps(spec))
    if "args" in spec:
        spec["args"]["device"] = "cpu"
    if "device" in spec:
        spec["device"] = "cpu"
    return spec


def under_slurm() -> bool:
    return bool(os.environ.get("SLURM_JOB_ID"))


@contextlib.contextmanager
def held_devices(directory: Path, count: int, job: str, poll_s: float = 0.5) -> Iterator[list[str]]:
    """Exclusively hold ``count`` of the node's devices (all or nothing, waiting until that many are free)."""
    if count == 0:
        yield []
        return
    if under_slurm() and not os.environ.get(SIMULATE_ENV):
        yield os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")  # the allocation's devices are ours
        return
    devices = node_devices()
    if len(devices) < count:
        from ..errors import UserError

        raise UserError(f"the job needs {count} GPU(s), this node has {len(devices)}", key=f"resources.{job}.gpus",
                        allowed=f"0..{len(devices)}")
    waited = 0.0
    while True:
        fds: list[tuple[str, int]] = []
        for dev in devices:
            fd = _open(directory / f"device-{dev}.lock")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fds.append((dev, fd))
            except BlockingIOError:
                os.close(fd)
            if len(fds) == count:
                break
        if len(fds) == count:
            break
        for _, fd in fds:  # never sit on part of a set: two jobs could each hold half of what both need
            os.close(fd)
        time.sleep(poll_s)
        waited += poll_s
        if waited % 60 < poll_s:
            print(f"{job}: waiting for {count} free device(s) of {len(devices)}", flush=True)
    try:
        yield [dev for dev, _ in fds]
    finally:
        for _, fd in fds:
            os.close(fd)


@contextlib.contextmanager
def node_slot(results_dir: str | Path, job: str, exclusive: bool, gpus: int) -> Iterator[dict[str, Any]]:
    """Hold this job's place on the node: shared (any job) or exclusive (timing), plus its devices.

    Yields the record of the hold (devices, start time, what was running when it started)."""
    directory = lock_dir(results_dir)
    gate = _open(directory / "gate.lock")
    node = _open(directory / "node.lock")
    try:
        fcntl.flock(gate, fcntl.LOCK_EX)
        if exclusive:
            fcntl.flock(node, fcntl.LOCK_EX)  # waits for running jobs; the held gate stops new ones
        else:
            fcntl.flock(node, fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)
        with held_devices(directory, gpus, job) as devices:
            if devices and not under_slurm() and not os.environ.get(SIMULATE_ENV):
                os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
            os.environ[ASSIGNED_ENV] = ",".join(devices)
            record = {"job": job, "pid": os.getpid(), "host": socket.gethostname(), "devices": devices,
                      "exclusive": exclusive, "start": time.time()}
            _ledger(directory, {**record, "event": "start"})
            try:
                yield record
            finally:
                _ledger(directory, {**record, "event": "end", "end": time.time()})
    finally:
        os.close(node)
        os.close(gate)


def overlaps(ledger: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs of holds that broke a rule: a device held twice at once, or anything beside an exclusive hold."""
    holds: dict[tuple[int, str], dict[str, Any]] = {}
    for e in ledger:
        key = (e["pid"], e["job"])
        holds.setdefault(key, dict(e))
        if e["event"] == "end":
            holds[key]["end"] = e["end"]
    spans = [h for h in holds.values() if "end" in h]
    bad = []
    for i, a in enumerate(spans):
        for b in spans[i + 1:]:
            if a["start"] < b["end"] and b["start"] < a["end"] and a["host"] == b["host"]:
                if a["exclusive"] or b["exclusive"] or set(a["devices"]) & set(b["devices"]):
                    bad.append((a, b))
    return bad
