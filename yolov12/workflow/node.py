"""Jobs sharing one node: each job holds its own devices, and a timing job runs alone.

Snakemake's ``--resources gpu=N`` bounds how MANY devices running jobs declare, not WHICH: on a local node each job
therefore takes its devices here, through one lock file per device (``flock``: released by the kernel when the
process dies, even by kill -9), and exposes only those to itself (``CUDA_VISIBLE_DEVICES`` by UUID, in the order it
took them, so Ultralytics' ``0,1,...`` are its own devices). Inside a SLURM allocation (``salloc``, ``sbatch``, a job
of the SLURM executor) the same happens among the allocation's devices: jobs sharing one allocation never share a
device, and jobs of separate allocations hold different UUIDs anyway.

Timing isolation: every job holds the node lock shared; a timing job (latency, profile) holds it exclusively, so no
other job of the workflow runs on the node while a cell is timed. A gate lock makes a waiting timing job block new
jobs from starting (no starvation). Every hold is appended to ``ledger.jsonl`` (job, pid, devices, start, and an
end record when it ends normally): the record of what ran when. Who runs NOW is derived from the kernel's lock table
(``live_holds``), never from missing end records: a job killed by SIGKILL or a node failure writes no end record, but
the kernel releases its locks, so it stops counting at once.

The lock folder is node-wide (``/tmp/yolov12-node``, shared by every results folder, config and user of the node, so
two configs cannot double-book a GPU); ``YOLOV12_NODE_LOCKS`` overrides it (tests, a node whose /tmp is per job).
``YOLOV12_SIMULATE_GPUS=N`` simulates an N-device node (the device assignment is recorded, CUDA is not touched).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SIMULATE_ENV = "YOLOV12_SIMULATE_GPUS"
LOCKS_ENV = "YOLOV12_NODE_LOCKS"
ASSIGNED_ENV = "YOLOV12_DEVICES"  # the devices a job holds, as recorded (simulated or real)
_own_pids: set[int] = set()  # this process, while it holds the node lock (the kernel's table lists it to others only)


NODE_DIR = Path("/tmp/yolov12-node")


def lock_dir(results_dir: str | Path | None = None) -> Path:
    """The node's lock folder. ``results_dir`` is not used: the locks are node-wide (kept for the callers' sake)."""
    path = Path(os.environ[LOCKS_ENV]) if os.environ.get(LOCKS_ENV) else NODE_DIR
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        if path == NODE_DIR:
            with contextlib.suppress(PermissionError):
                path.chmod(0o1777)  # every user's jobs share the node's devices (sticky, like /tmp)
    return path


def _open(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    with contextlib.suppress(PermissionError):
        os.fchmod(fd, 0o666)  # the umask must not lock other users out of a shared lock file
    return fd


def _ledger(directory: Path, entry: dict[str, Any]) -> None:
    line = (json.dumps(entry, sort_keys=True) + "\n").encode()
    fd = os.open(directory / "ledger.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        os.write(fd, line)  # one write of a short line with O_APPEND: whole lines, whatever the concurrency
    finally:
        os.close(fd)


def read_ledger(directory: str | Path, raw: bool = False) -> list[dict[str, Any]]:
    """The ledger's records. Unless ``raw``, without the start records of holds that ended with no end record (kill
    -9, a crash): the kernel has released their locks, so they run no more, and their end time is unknown; a reader
    that takes a hold without an end as still running (``latency_job.others_during``) then never counts them."""
    path = Path(directory) / "ledger.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    if raw:
        return records
    ended = {(e["pid"], e["job"], e["start"]) for e in records if e["event"] == "end"}
    unended = [e for e in records if e["event"] == "start" and (e["pid"], e["job"], e["start"]) not in ended]
    if not unended:
        return records
    from .runlock import lock_holders

    alive = set(lock_holders(Path(directory) / "node.lock")) | _own_pids
    host = socket.gethostname()
    dead = {id(e) for e in unended if e["host"] == host and e["pid"] not in alive}
    return [e for e in records if id(e) not in dead]


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
    devices = node_devices()  # inside a SLURM allocation: the allocation's devices
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
            log.info("%s: waiting for %d free device(s) of %d", job, count, len(devices))
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
        _own_pids.add(os.getpid())
        with held_devices(directory, gpus, job) as devices:
            if devices and not os.environ.get(SIMULATE_ENV):
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
        _own_pids.discard(os.getpid())
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


def live_holds(directory: str | Path | None = None) -> list[dict[str, Any]]:
    """The holds running now on this node: start records whose process holds the node lock in the kernel's table
    (a process that died, even by kill -9, holds nothing: the kernel released its locks)."""
    from .runlock import lock_holders

    directory = lock_dir() if directory is None else Path(directory)
    alive = set(lock_holders(directory / "node.lock")) | _own_pids  # lock_holders leaves out the caller
    host, ledger = socket.gethostname(), read_ledger(directory, raw=True)
    ended = {(e["pid"], e["job"], e["start"]) for e in ledger if e["event"] == "end"}
    return [e for e in ledger if e["event"] == "start" and e["host"] == host and e["pid"] in alive
            and (e["pid"], e["job"], e["start"]) not in ended]


def others_during(hold: dict[str, Any], end: float, directory: str | Path | None = None) -> list[str]:
    """Jobs other than ``hold`` that ran on this node during [hold's start, end]: those that ended in between (their
    end records), and those running now (the kernel's lock table). A hold that died without an end record is not
    counted: it held the node lock, so an exclusive hold started only after the kernel released it."""
    directory = lock_dir() if directory is None else Path(directory)
    spans: dict[tuple, dict[str, Any]] = {}
    for e in read_ledger(directory, raw=True):
        spans.setdefault((e["pid"], e["job"]), {}).update(e)
    ended = {s["job"] for s in spans.values() if s["pid"] != hold["pid"] and s.get("host") == hold["host"]
             and "end" in s and s["start"] < end and s["end"] > hold["start"]}
    running = {h["job"] for h in live_holds(directory) if h["pid"] != hold["pid"] and h["host"] == hold["host"]}
    return sorted(ended | running)
