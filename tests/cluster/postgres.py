"""A real PostgreSQL server and a real ``mlflow server`` backed by it, on 127.0.0.1, in a temporary directory.

    from cluster import postgres
    mlflow_server = postgres.mlflow_server                   # the session fixture, in a test module

    def test_x(mlflow_server):
        mlflow.set_tracking_uri(mlflow_server.tracking_uri)   # http://127.0.0.1:<port>

``initdb`` makes a cluster in the temporary directory with one superuser ``mlflow`` (trust authentication on
127.0.0.1 only) and a database ``mlflow``; ``postgres`` listens on a free port and on a socket in that
directory, never on the system's. PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user
(``nobody`` when there is none), which owns the data directory. ``mlflow server`` serves the tracking API with the
PostgreSQL backend store and proxies artifacts to a directory beside it (``--serve-artifacts``), so every
process that can reach the URI can log artifacts. Command-line use: ``cd tests && python -m cluster.postgres``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cluster import Daemons, SharedService, Unavailable, free_port, port_open, require, run, serve_forever, wait_for

PG_PROGRAMS = ["initdb", "postgres", "createdb", "pg_isready"]
APT_HINT = "apt-get install postgresql (PostgreSQL 13 or newer)"
DATABASE = "mlflow"
DB_USER = "mlflow"
MLFLOW_WORKERS = 2  # more than one, so that concurrent requests reach the database from separate processes
# generous: the first start runs MLflow's schema migrations, and a CPU shared with other work can make initdb and
# the server's imports take minutes; a healthy start on an idle 2-core machine takes about 30 s
STARTUP_TIMEOUT = 300.0


@dataclass
class MlflowServer:
    root: Path
    tracking_uri: str  # http://127.0.0.1:<port>, for MLFLOW_TRACKING_URI or the workflow's mlflow: {tracking_uri: ...}
    backend_uri: str  # postgresql://mlflow@127.0.0.1:<port>/mlflow, for checking what the server stored
    artifacts: Path
    startup_s: dict[str, float] = field(default_factory=dict)
    daemons: Daemons | None = None

    def stop(self) -> None:
        stop_mlflow_server(self)


def postgres_bindir() -> list[str]:
    """Debian installs the server programs off PATH, in /usr/lib/postgresql/<version>/bin; newest first."""
    dirs = glob.glob("/usr/lib/postgresql/*/bin")
    return sorted(dirs, key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0, reverse=True)


def _service_user() -> tuple[int | None, int | None]:
    """(uid, gid) to run PostgreSQL as: ourselves unless root, then ``postgres`` or ``nobody``."""
    if os.geteuid() != 0:
        return None, None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise Unavailable("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


def start_mlflow_server(base_dir: str | Path | None = None) -> MlflowServer:
    """Start PostgreSQL and ``mlflow server`` and wait until the server answers; ``Unavailable`` if it cannot."""
    bins = require(PG_PROGRAMS, APT_HINT, search=postgres_bindir())
    try:
        import psycopg2  # noqa: F401  (MLflow's PostgreSQL driver: the 'server' extra)
    except ImportError:
        raise Unavailable("psycopg2 is not installed (pip install -e '.[server]')") from None
    t0 = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="yolov12-mlflow-", dir=base_dir))
    root.chmod(0o755)  # the service user must reach its data directory inside
    daemons = Daemons(root)
    pg_port, http_port = free_port(), free_port()
    server = MlflowServer(root=root, tracking_uri=f"http://127.0.0.1:{http_port}",
                          backend_uri=f"postgresql://{DB_USER}@127.0.0.1:{pg_port}/{DATABASE}",
                          artifacts=root / "artifacts", daemons=daemons)
    try:
        _start(server, bins, daemons, pg_port, http_port)
    except BaseException:
        stop_mlflow_server(server)
        raise
    server.startup_s["total"] = round(time.monotonic() - t0, 2)
    return server


def _start(server: MlflowServer, bins: dict[str, str], daemons: Daemons, pg_port: int, http_port: int) -> None:
    root, phases = server.root, server.startup_s
    uid, gid = _service_user()
    data, sockets = root / "pgdata", root / "pgrun"
    for path in (data, sockets):
        path.mkdir(mode=0o700)
        if uid is not None:
            os.chown(path, uid, gid)
    as_service = {"user": uid, "group": gid, "extra_groups": []} if uid is not None else {}

    t = time.monotonic()
    run([bins["initdb"], "-D", str(data), "-U", DB_USER, "--auth=trust", "--encoding=UTF8", "--locale=C",
         "--no-sync", "--no-instructions"], timeout=120, cwd=root, **as_service)
    daemons.start("postgres", [bins["postgres"], "-D", str(data), "-p", str(pg_port), "-k", str(sockets),
                               "-c", "listen_addresses=127.0.0.1",
                               # a throw-away database: no durability needed, so no fsync per commit
                               "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                  user=uid, group=gid, stop_signal=signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
    pg_ready = [bins["pg_isready"], "-q", "-h", "127.0.0.1", "-p", str(pg_port), "-U", DB_USER]
    wait_for(lambda: run(pg_ready, check=False, timeout=10).returncode == 0, STARTUP_TIMEOUT, "postgres",
             daemons.check_alive)
    run([bins["createdb"], "-h", "127.0.0.1", "-p", str(pg_port), "-U", DB_USER, DATABASE])
    phases["postgres"] = round(time.monotonic() - t, 2)

    t = time.monotonic()
    server.artifacts.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONUNBUFFERED"] = "1"
    daemons.start("mlflow", [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", server.backend_uri,
                             "--serve-artifacts", "--artifacts-destination", str(server.artifacts),
                             "--host", "127.0.0.1", "--port", str(http_port), "--workers", str(MLFLOW_WORKERS),
                             # a worker still importing on a busy CPU is not hung; stopping need not wait
                             "--uvicorn-opts", "--timeout-worker-healthcheck 120 --timeout-graceful-shutdown 3"],
                  env=env, grace=5)  # a throw-away server: nothing to flush
    wait_for(lambda: port_open(http_port) and _healthy(server.tracking_uri), STARTUP_TIMEOUT, "mlflow server",
             daemons.check_alive)
    phases["mlflow"] = round(time.monotonic() - t, 2)


def _healthy(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def stop_mlflow_server(server: MlflowServer) -> None:
    """Stop the MLflow server, then PostgreSQL, and remove the directory."""
    try:
        if server.daemons is not None:
            server.daemons.stop_all()
    finally:
        if os.environ.get("YOLOV12_KEEP_CLUSTER_DIR"):  # debugging: keep the data directory and logs
            print(f"kept {server.root}")
        else:
            shutil.rmtree(server.root, ignore_errors=True)


# ---- pytest --------------------------------------------------------------------------------------------------

_shared: SharedService[MlflowServer] = SharedService(start_mlflow_server, stop_mlflow_server)

try:
    import pytest  # noqa: F401
except ImportError:  # used from a script without pytest
    pass
else:
    mlflow_server = _shared.fixture("mlflow_server", "PostgreSQL-backed MLflow server")


def main() -> None:
    try:
        server = start_mlflow_server()
    except Unavailable as why:  # a missing program, no root: one line, no traceback
        raise SystemExit(f"no MLflow server on PostgreSQL: {why}") from None
    # flushed: the lines matter most when the output goes to a file (the server started in the background)
    print(f"MLflow on PostgreSQL up in {server.startup_s['total']} s ({server.startup_s})", flush=True)
    print(f"export MLFLOW_TRACKING_URI={server.tracking_uri}   # backend {server.backend_uri}", flush=True)
    serve_forever(server.stop)


if __name__ == "__main__":
    main()
