"""A real single-node SLURM cluster on 127.0.0.1, with accounting, in a temporary directory.

    from cluster import slurm
    slurm_cluster = slurm.slurm_cluster                      # the session fixture, in a test module
    slurm.sacct_jobs(cluster, since=...)                     # what SLURM accounted for each job

    cluster = start_slurm_cluster()                          # from a script; cluster.stop() tears it down
    subprocess.run(["sbatch", ...], env=cluster.env())       # SLURM_CONF points the clients at it

Pieces, all in the temporary directory and all run as root (as SLURM and MariaDB need here): ``munged`` with its
own key and socket; ``mariadbd`` with its own data directory, socket and port; ``slurmdbd`` (the SLURM
executor plugin reads job states with ``sacct``, so accounting is not optional); the cluster, an account and
root's association registered with ``sacctmgr``; ``slurmctld`` and ``slurmd`` for one node sized to this machine
(at most 2 CPUs, the machine's memory, no GRES), ``proctrack/linuxproc`` and ``task/none`` (no cgroups needed).

Nothing global is written: the clients and daemons find ``slurm.conf`` through ``SLURM_CONF`` (``slurmdbd`` reads
``slurmdbd.conf`` beside it); ``AuthInfo=socket=...`` (and ``AccountingStoragePass``, the socket clients use for
slurmdbd) point SLURM at our munge socket instead of ``/run/munge``; ``bin/`` wraps the client commands with
``SLURM_CONF`` for the one place that drops it (see ``_write_client_wrappers``). Command-line use:
``cd tests && python -m cluster.slurm`` starts one and prints the ``SLURM_CONF`` to export; Ctrl-C stops it.
The node has at most 2 CPUs and the machine's memory (``cluster.cpus``, ``cluster.memory_mb``): a job asking more
is refused by sbatch, and there are no GPUs (a job with ``gpu`` > 0 is refused too).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cluster import Daemons, SharedService, Unavailable, free_port, port_open, require, run, serve_forever, wait_for

CLIENTS = ["sacctmgr", "sinfo", "sbatch", "sacct", "scancel", "squeue", "scontrol", "srun", "sshare"]
PROGRAMS = ["munged", "mariadbd", "mariadb-install-db", "mariadb", "slurmdbd", "slurmctld", "slurmd", *CLIENTS]
APT_HINT = "apt-get install slurm-wlm slurmdbd munge mariadb-server"
CLUSTER_NAME = "yolov12test"
PARTITION = "debug"
ACCOUNT = "yolov12"
# Status polling for jobs that take seconds: appended to `snakemake --profile workflows/profiles/slurm` (whose
# values, the plugin's defaults, suit hour-long jobs). The plugin still adds 10 s per query in which no job ended.
FAST_POLLING = ["--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1"]
STARTUP_TIMEOUT = 120.0  # seconds per daemon: a start takes a few, more on a CPU shared with other work

# sacct fields returned by sacct_jobs, in this order
SACCT_FIELDS = ["JobID", "JobName", "State", "ReqMem", "Timelimit", "ReqCPUS", "AllocCPUS", "AllocTRES",
                "Account", "Partition", "Comment", "ExitCode"]


@dataclass
class SlurmCluster:
    root: Path
    conf: Path
    name: str
    partition: str
    account: str
    node: str
    cpus: int
    memory_mb: int
    started_at: dt.datetime
    startup_s: dict[str, float] = field(default_factory=dict)  # seconds per phase, and "total"
    daemons: Daemons | None = None

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment for SLURM clients (sbatch, sacct, snakemake --executor slurm) that targets this cluster.

        Variables of an enclosing SLURM job are dropped: they would make clients and the plugin believe they run
        inside a job of another cluster.
        """
        env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("SLURM_")}
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join([str(self.root / "bin"), env.get("PATH", os.defpath)])
        return env

    def stop(self) -> None:
        stop_slurm_cluster(self)


def _node_name() -> str:
    return socket.gethostname().split(".")[0]


def _require_host_name_on_127_0_0_1(node: str) -> None:
    """With NoInAddrAny the SLURM daemons, srun and slurmstepd bind to what the host name resolves to: 127.0.0.1.

    Nothing else works. A bare Debian image (debootstrap, some containers) has no /etc/hosts line for its own name:
    slurmdbd dies with "Address family not supported by protocol". An installed Debian maps it to 127.0.1.1: the
    daemons start, but srun binds its I/O sockets there while slurmstepd connects back to the address the launch
    request came from (127.0.0.1, the kernel's source address on lo), so every job step hangs ("Slurmd could not
    connect IO"). A public address would make the daemons listen on it. Each case is refused here, in one line.
    """
    fix = f"put {node!r} on the 127.0.0.1 line of /etc/hosts"
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(node, None, socket.AF_INET)}
    except socket.gaierror:
        raise Unavailable(f"the host name {node!r} does not resolve (SLURM binds to its address): {fix}") from None
    if addresses != {"127.0.0.1"}:
        raise Unavailable(f"the host name {node!r} resolves to {', '.join(sorted(addresses))}, not 127.0.0.1 only "
                          f"(SLURM binds to it; its job steps need 127.0.0.1): {fix}")


def _memory_mb() -> int:
    # the formula slurmd uses for the memory it detects; RealMemory above it would drain the node
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _slurm_conf(root: Path, node: str, cpus: int, memory_mb: int, ports: dict[str, int], munge_socket: Path) -> str:
    return f"""\
ClusterName={CLUSTER_NAME}
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ports['slurmctld']}
SlurmdPort={ports['slurmd']}
# bind to the configured addresses (127.0.0.1), not to every interface: slurmctld, and slurmd / srun / slurmstepd
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
PlugStackConfig={root}/etc/plugstack.conf
# no cgroups: a container or CI runner need not delegate them
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports['slurmdbd']}
# with auth/munge this is the munge socket used to reach slurmdbd (clients ignore AuthInfo for that connection)
AccountingStoragePass={munge_socket}
# keep the comment (the executor plugin writes the rule name there) in the accounting database
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
# memory is a consumable resource, so --mem is enforced at scheduling and recorded as ReqMem
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=300
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _slurmdbd_conf(root: Path, ports: dict[str, int], munge_socket: Path, db_password: str) -> str:
    return f"""\
AuthType=auth/munge
AuthInfo=socket={munge_socket}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={ports['slurmdbd']}
# DbdAddr does not restrict the listening socket: without this slurmdbd listens on every interface
CommunicationParameters=NoInAddrAny
SlurmUser=root
LogFile={root}/log/slurmdbd.log
PidFile={root}/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports['mariadb']}
StorageUser=slurm
StoragePass={db_password}
StorageLoc=slurm_acct_db
"""


def start_slurm_cluster(base_dir: str | Path | None = None) -> SlurmCluster:
    """Start the cluster and wait until its node is idle and accounting answers; ``Unavailable`` if it cannot."""
    if os.geteuid() != 0:
        raise Unavailable("a SLURM test cluster needs root (slurmd, munged and mariadbd run as root here)")
    bins = require(PROGRAMS, APT_HINT)
    _require_host_name_on_127_0_0_1(_node_name())
    t0 = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="yolov12-slurm-", dir=base_dir))
    root.chmod(0o755)  # munged insists that every directory above its socket is searchable by all
    for sub in ("etc", "log", "run", "state", "spool", "munge", "db"):
        (root / sub).mkdir()
    (root / "munge").chmod(0o700)  # the key's directory
    daemons = Daemons(root / "log")
    node, cpus, memory_mb = _node_name(), min(os.cpu_count() or 1, 2), _memory_mb()
    cluster = SlurmCluster(root=root, conf=root / "etc" / "slurm.conf", name=CLUSTER_NAME, partition=PARTITION,
                           account=ACCOUNT, node=node, cpus=cpus, memory_mb=memory_mb,
                           started_at=dt.datetime.now().replace(microsecond=0), daemons=daemons)
    try:
        _start(cluster, bins, daemons)
    except BaseException:
        stop_slurm_cluster(cluster)
        raise
    cluster.startup_s["total"] = round(time.monotonic() - t0, 2)
    return cluster


def _start(cluster: SlurmCluster, bins: dict[str, str], daemons: Daemons) -> None:
    root, phases = cluster.root, cluster.startup_s
    ports = {name: free_port() for name in ("mariadb", "slurmdbd", "slurmctld", "slurmd")}
    munge_socket = root / "run" / "munge.socket"
    db_password = secrets.token_hex(12)

    t = time.monotonic()
    key = root / "munge" / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    daemons.start("munged", [bins["munged"], "--foreground", f"--key-file={key}", f"--socket={munge_socket}",
                             f"--pid-file={root}/run/munged.pid", f"--log-file={root}/log/munged.log",
                             f"--seed-file={root}/munge/seed"])
    wait_for(munge_socket.exists, STARTUP_TIMEOUT, "munged", daemons.check_alive)
    phases["munge"] = round(time.monotonic() - t, 2)

    t = time.monotonic()
    db = root / "db"
    run([bins["mariadb-install-db"], "--no-defaults", f"--datadir={db}", "--user=root", "--skip-test-db",
         "--auth-root-authentication-method=socket"], timeout=120)
    db_socket = root / "run" / "mariadb.sock"
    daemons.start("mariadbd", [bins["mariadbd"], "--no-defaults", f"--datadir={db}", f"--socket={db_socket}",
                               f"--port={ports['mariadb']}", "--bind-address=127.0.0.1", "--skip-name-resolve",
                               "--user=root", f"--pid-file={root}/run/mariadb.pid",
                               f"--log-error={root}/log/mariadb.log", "--skip-log-bin",
                               # a throw-away database: small, no fsync per commit
                               "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=0",
                               "--innodb-lock-wait-timeout=900"])
    wait_for(lambda: port_open(ports["mariadb"]) and db_socket.exists(), STARTUP_TIMEOUT, "mariadbd",
             daemons.check_alive)
    run([bins["mariadb"], "--no-defaults", f"--socket={db_socket}", "-u", "root", "-e",
         f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{db_password}'; "
         "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"])
    phases["mariadb"] = round(time.monotonic() - t, 2)

    _write(root / "etc" / "plugstack.conf", "")
    _write(cluster.conf, _slurm_conf(root, cluster.node, cluster.cpus, cluster.memory_mb, ports, munge_socket))
    # slurmdbd refuses a slurmdbd.conf that others can read (it holds the database password)
    _write(root / "etc" / "slurmdbd.conf", _slurmdbd_conf(root, ports, munge_socket, db_password), 0o600)
    _write_client_wrappers(cluster, bins)
    env = cluster.env()

    t = time.monotonic()
    daemons.start("slurmdbd", [bins["slurmdbd"], "-D"], env=env)
    wait_for(lambda: port_open(ports["slurmdbd"]), STARTUP_TIMEOUT, "slurmdbd", daemons.check_alive)
    sacctmgr = [bins["sacctmgr"], "--immediate"]
    wait_for(lambda: run([bins["sacctmgr"], "--noheader", "show", "cluster"], env=env, check=False).returncode == 0,
             STARTUP_TIMEOUT, "slurmdbd (sacctmgr show cluster)", daemons.check_alive)
    run([*sacctmgr, "add", "cluster", cluster.name], env=env)
    run([*sacctmgr, "add", "account", cluster.account, f"Cluster={cluster.name}",
         "Description=yolov12 tests", "Organization=yolov12"], env=env)
    run([*sacctmgr, "add", "user", "root", f"Account={cluster.account}", f"Cluster={cluster.name}",
         f"DefaultAccount={cluster.account}"], env=env)
    phases["slurmdbd"] = round(time.monotonic() - t, 2)

    t = time.monotonic()
    daemons.start("slurmctld", [bins["slurmctld"], "-D", "-i"], env=env)
    wait_for(lambda: port_open(ports["slurmctld"]), STARTUP_TIMEOUT, "slurmctld", daemons.check_alive)
    daemons.start("slurmd", [bins["slurmd"], "-D", "-N", cluster.node], env=env)
    wait_for(lambda: _node_state(bins["sinfo"], env) == "idle", STARTUP_TIMEOUT,
             f"slurmd (node {cluster.node} idle in sinfo)", daemons.check_alive)
    phases["slurmctld+slurmd"] = round(time.monotonic() - t, 2)


def _write_client_wrappers(cluster: SlurmCluster, bins: dict[str, str]) -> None:
    """SLURM client commands that carry SLURM_CONF themselves, first on the PATH of ``cluster.env()``.

    Why: inside a job, snakemake-executor-plugin-slurm-jobstep (0.6) removes every SLURM_* variable except the
    job's identity, SLURM_CONF included, before it runs the job through ``srun``; that ``srun`` would then look
    for /etc/slurm/slurm.conf. A real cluster has that file (or runs configless); this one must not write it.
    """
    bin_dir = cluster.root / "bin"
    bin_dir.mkdir()
    for name in CLIENTS:
        _write(bin_dir / name, f'#!/bin/sh\nSLURM_CONF={cluster.conf} exec {bins[name]} "$@"\n', 0o755)


def _node_state(sinfo: str, env: dict[str, str]) -> str:
    proc = run([sinfo, "--noheader", "--Node", "--format=%T"], env=env, check=False, timeout=10)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def stop_slurm_cluster(cluster: SlurmCluster) -> None:
    """Cancel every job, stop the daemons (slurmd first, munged last) and remove the directory."""
    try:
        if shutil.which("scancel") and cluster.conf.exists() and cluster.daemons and cluster.daemons.procs:
            with contextlib.suppress(Unavailable):  # a controller that never came up cannot cancel anything
                run(["scancel", "--full", "--user=root"], env=cluster.env(), check=False, timeout=10)
        if cluster.daemons is not None:
            cluster.daemons.stop_all()
    finally:
        if os.environ.get("YOLOV12_KEEP_CLUSTER_DIR"):  # debugging: keep configs and logs
            print(f"kept {cluster.root}")
        else:
            shutil.rmtree(cluster.root, ignore_errors=True)


# ---- accounting -----------------------------------------------------------------------------------------------

_MEM_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def parse_mem_mb(text: str) -> float | None:
    """sacct's ReqMem ("300M", "1.50G", older "4000Mc") in MB; None when empty."""
    if not text:
        return None
    m = re.fullmatch(r"([0-9.]+)([KMGT]?)[nc]?", text.strip())
    if m is None:
        raise ValueError(f"sacct ReqMem {text!r} is not <number>[K|M|G|T]")
    return float(m.group(1)) * _MEM_UNITS[m.group(2) or "M"]


def parse_minutes(text: str) -> float | None:
    """sacct's Timelimit ("[D-]HH:MM:SS", "MM:SS") in minutes; None when unlimited or empty."""
    text = text.strip()
    if text in ("", "UNLIMITED", "Partition_Limit", "INVALID"):
        return None
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    hours, minutes, seconds = parts
    return (int(days or 0) * 24 + hours) * 60 + minutes + seconds / 60


def sacct_jobs(cluster: SlurmCluster, since: dt.datetime | str | None = None) -> list[dict]:
    """Every job (allocations, not steps) of all users since ``since`` (default: the cluster's start).

    Keys: SACCT_FIELDS; ReqMem in MB (float), Timelimit in minutes (float, None = unlimited), ReqCPUS and
    AllocCPUS as int, the rest as sacct prints them (AllocTRES e.g. "billing=2,cpu=2,mem=500M,node=1").
    """
    since = since or cluster.started_at
    if isinstance(since, dt.datetime):
        since = since.strftime("%Y-%m-%dT%H:%M:%S")
    proc = run(["sacct", "--allusers", "--allocations", "--parsable2", "--noheader", f"--starttime={since}",
                "--endtime=now", f"--format={','.join(SACCT_FIELDS)}"], env=cluster.env())
    jobs = []
    for line in proc.stdout.splitlines():
        values = line.split("|")
        if len(values) != len(SACCT_FIELDS):
            raise ValueError(f"sacct line has {len(values)} fields, expected {len(SACCT_FIELDS)}: {line!r}")
        job = dict(zip(SACCT_FIELDS, values, strict=True))
        job["ReqMem"] = parse_mem_mb(job["ReqMem"])
        job["Timelimit"] = parse_minutes(job["Timelimit"])
        job["ReqCPUS"] = int(job["ReqCPUS"])
        job["AllocCPUS"] = int(job["AllocCPUS"])
        jobs.append(job)
    return jobs


# ---- pytest --------------------------------------------------------------------------------------------------

_shared: SharedService[SlurmCluster] = SharedService(start_slurm_cluster, stop_slurm_cluster)

try:
    import pytest  # noqa: F401
except ImportError:  # used from a script without pytest
    pass
else:
    slurm_cluster = _shared.fixture("slurm_cluster", "SLURM test cluster")


def main() -> None:
    try:
        cluster = start_slurm_cluster()
    except Unavailable as why:  # a missing program, no root, an unresolvable host name: one line, no traceback
        raise SystemExit(f"no SLURM test cluster: {why}") from None
    # flushed: the lines matter most when the output goes to a file (the cluster started in the background)
    print(f"SLURM cluster {cluster.name} up in {cluster.startup_s['total']} s ({cluster.startup_s})", flush=True)
    # bin/ first on the PATH: its client commands carry SLURM_CONF into jobs (see _write_client_wrappers)
    print(f"export SLURM_CONF={cluster.conf} PATH={cluster.root / 'bin'}:$PATH", flush=True)
    serve_forever(cluster.stop)


if __name__ == "__main__":
    main()
