"""Real services for the tests: a single-node SLURM cluster (``cluster.slurm``) and a PostgreSQL-backed MLflow
tracking server (``cluster.postgres``).

Each service runs its daemons in the foreground as child processes of the test process, in one temporary
directory, on 127.0.0.1 and free ports; nothing global is configured. A service that cannot start raises
``Unavailable`` with one line saying what is missing; the pytest fixtures turn that into a skip.

This module holds what both services share: free ports, waiting with a deadline, daemon processes that die with
their parent, and a session-wide singleton so that a fixture imported into several test modules starts its
service once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

PR_SET_PDEATHSIG = 1  # prctl(2): signal a child when its parent dies, so an aborted test run leaks no daemons


class Unavailable(RuntimeError):
    """The service cannot run on this machine; the message is one line naming what is missing."""


def require(programs: list[str], hint: str, search: list[str] | None = None) -> dict[str, str]:
    """Absolute paths of ``programs`` (found on PATH or in ``search``), or ``Unavailable`` naming the missing ones."""
    path = os.pathsep.join([*(search or []), os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = {p: shutil.which(p, path=path) for p in programs}
    missing = sorted(p for p, where in found.items() if where is None)
    if missing:
        raise Unavailable(f"missing {', '.join(missing)} ({hint})")
    return {p: str(where) for p, where in found.items()}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(ready: Callable[[], bool], timeout: float, what: str, alive: Callable[[], None] | None = None) -> float:
    """Poll ``ready`` until true; seconds waited. ``alive`` raises when a daemon we wait for has died."""
    start = time.monotonic()
    delay = 0.05
    while True:
        if alive is not None:
            alive()
        if ready():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise Unavailable(f"{what} not ready after {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 30, check: bool = True,
        **kwargs: Any) -> subprocess.CompletedProcess:
    """Run a command and capture its output; a failure raises ``Unavailable`` with the command and its last line."""
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{' '.join(argv[:3])} did not answer within {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        why = last_line(proc.stderr or proc.stdout)
        raise Unavailable(f"{' '.join(argv[:3])} failed (exit {proc.returncode}): {why}")
    return proc


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Daemons:
    """Foreground daemons started in order and stopped in reverse order (SIGTERM, then SIGKILL after a grace)."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None, user: int | None = None,
              group: int | None = None, stop_signal: int = signal.SIGTERM, grace: float = 10.0) -> subprocess.Popen:
        log = self.log_dir / f"{name}.out"
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, preexec_fn=_die_with_parent, user=user, group=group,
                                    extra_groups=[] if user is not None else None)
        proc.stop_signal, proc.grace = stop_signal, grace  # type: ignore[attr-defined]
        self.procs.append((name, proc, log))
        return proc

    def check_alive(self) -> None:
        """``Unavailable`` naming the first daemon that has exited, with the last line of its log."""
        for name, proc, log in self.procs:
            if proc.poll() is not None:
                text = log.read_text(errors="replace") if log.exists() else ""
                raise Unavailable(f"{name} exited with status {proc.returncode}: {last_line(text)}")

    def stop_all(self) -> None:
        for _name, proc, _log in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, proc.stop_signal)  # type: ignore[attr-defined]
                try:
                    proc.wait(timeout=proc.grace)  # type: ignore[attr-defined]
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)
            # a daemon's own children (slurmstepd, uvicorn workers) share its process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()


T = TypeVar("T")


class SharedService(Generic[T]):
    """One instance of a service per process, however many test modules import its fixture.

    pytest makes a separate session-scoped fixture for each module a fixture function is imported into; they all
    acquire this one instance, and the last release stops it. A failed start is remembered, so later acquirers
    skip at once with the same reason instead of waiting for the same failure again.
    """

    def __init__(self, start: Callable[[], T], stop: Callable[[T], None]):
        self._start, self._stop = start, stop
        self._instance: T | None = None
        self._failure: str | None = None
        self._users = 0

    def acquire(self) -> T:
        if self._failure is not None:
            raise Unavailable(self._failure)
        if self._instance is None:
            try:
                self._instance = self._start()
            except Unavailable as e:
                self._failure = str(e)
                raise
        self._users += 1
        return self._instance

    def release(self) -> None:
        self._users -= 1
        if self._users == 0 and self._instance is not None:
            instance, self._instance = self._instance, None
            self._stop(instance)

    def fixture(self, name: str, what: str):
        """A session fixture ``name`` yielding the running instance; skips, naming what is missing, where it cannot
        start."""
        import pytest

        @pytest.fixture(scope="session", name=name)
        def running():
            try:
                instance = self.acquire()
            except Unavailable as e:
                pytest.skip(f"no {what}: {e}")
            try:
                yield instance
            finally:
                self.release()

        return running


def serve_forever(stop: Callable[[], None]) -> None:
    """Keep a service started from a script running until Ctrl-C or SIGTERM, then stop it."""
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop()



def tcp_listeners(pids: list[int]) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP socket in LISTEN state held by ``pids`` or their descendants, from /proc
    (the kernel's tables: no tool needed). IPv4 addresses as dotted quads, IPv6 as ``[hex]``."""
    procs = set(pids)
    changed = True
    while changed:  # add descendants (mlflow's workers, postgres' backends)
        changed = False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid, ppid = int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid in procs and pid not in procs:
                procs.add(pid)
                changed = True
    inodes: dict[str, int] = {}
    for pid in procs:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes[target[8:-1]] = pid
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                    continue
                addr_hex, port_hex = fields[1].split(":")
                if v6:
                    addr = f"[{addr_hex}]"
                else:
                    addr = ".".join(str(b) for b in reversed(bytes.fromhex(addr_hex)))
                found.append((addr, int(port_hex, 16), inodes[fields[9]]))
    return found


def non_loopback(listeners: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Listeners on anything but 127.0.0.0/8 or ::1 (0.0.0.0 and :: are every interface)."""
    v6_loopback = "[" + "0" * 24 + "01000000]"  # ::1 as /proc/net/tcp6 writes it
    return [entry for entry in listeners if not (entry[0].startswith("127.") or entry[0] == v6_loopback)]
