"""The cluster test infrastructure, for real: a two-rule Snakemake workflow on a SLURM cluster through the shipped
profile, with what each job declared checked in SLURM's accounting; eight processes logging to a
PostgreSQL-backed MLflow server at once, with every run, parameter and metric step checked afterwards.

The fixtures start real daemons (tests/cluster/) and skip, naming what is missing, where they cannot.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cluster.slurm import FAST_POLLING, parse_mem_mb, parse_minutes, sacct_jobs

# the session fixtures slurm_cluster and mlflow_server (tests/cluster/) are registered once, in conftest.py

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "workflows" / "profiles" / "slurm"

# what each rule of the two-rule workflow declares, and must get from SLURM
DECLARED = {"first": {"mem_mb": 300, "runtime": 7, "cpus_per_task": 1},
            "second": {"mem_mb": 500, "runtime": 11, "cpus_per_task": 2}}


def _snakefile() -> str:
    lines = ["localrules: all", "", "rule all:", "    input: 'second.txt'"]
    previous = None
    for name, res in DECLARED.items():
        lines += ["", f"rule {name}:"]
        lines += [f"    input: '{previous}.txt'"] if previous else []
        lines += [f"    output: '{name}.txt'",
                  f"    threads: {res['cpus_per_task']}",
                  f"    resources: mem_mb={res['mem_mb']}, runtime={res['runtime']}, "
                  f"cpus_per_task={res['cpus_per_task']}",
                  "    shell: 'echo $SLURM_JOB_ID $SLURM_CPUS_PER_TASK > {output}'"]
        previous = name
    return "\n".join(lines) + "\n"


def test_two_rule_workflow_runs_on_slurm_with_declared_resources(slurm_cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(_snakefile())
    env = slurm_cluster.env()
    env.update(YOLOV12_SLURM_PARTITION=slurm_cluster.partition, YOLOV12_SLURM_ACCOUNT=slurm_cluster.account,
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    since = dt.datetime.now() - dt.timedelta(seconds=1)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--profile", str(PROFILE), "--executor", "slurm",
                           *FAST_POLLING, "--directory", str(tmp_path), "--snakefile", str(tmp_path / "Snakefile")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:]

    # each rule ran inside its own SLURM job with the CPUs it asked for
    job_of_rule = {}
    for name, res in DECLARED.items():
        job_id, cpus = (tmp_path / f"{name}.txt").read_text().split()
        assert int(cpus) == res["cpus_per_task"], name
        job_of_rule[name] = job_id
    assert len(set(job_of_rule.values())) == len(DECLARED)

    # accounting reaches slurmdbd asynchronously: wait until both jobs are recorded as completed
    deadline = time.monotonic() + 60
    while True:
        jobs = {j["JobID"]: j for j in sacct_jobs(slurm_cluster, since=since) if j["JobID"] in job_of_rule.values()}
        if len(jobs) == len(DECLARED) and all(j["State"] == "COMPLETED" for j in jobs.values()):
            break
        assert time.monotonic() < deadline, f"sacct after 60 s: {jobs}"
        time.sleep(1)
    print(f"\nworkflow on SLURM: {elapsed:.1f} s; sacct:")
    for name, job_id in job_of_rule.items():
        job, res = jobs[job_id], DECLARED[name]
        print(f"  {name}: {job}")
        assert job["ReqMem"] == res["mem_mb"], (name, job)
        assert job["Timelimit"] == res["runtime"], (name, job)
        assert job["ReqCPUS"] == job["AllocCPUS"] == res["cpus_per_task"], (name, job)
        assert f"cpu={res['cpus_per_task']}" in job["AllocTRES"].split(","), (name, job)
        assert job["Account"] == slurm_cluster.account and job["Partition"] == slurm_cluster.partition, job
        assert job["Comment"] == f"rule_{name}", job  # the plugin's comment: which rule the job ran
    # one Snakemake run: all its jobs carry the same run id as their job name, and no job went missing
    run_ids = {job["JobName"] for job in jobs.values()}
    assert len(run_ids) == 1
    of_this_run = [j for j in sacct_jobs(slurm_cluster, since=since) if j["JobName"] in run_ids]
    assert len(of_this_run) == len(DECLARED), of_this_run


def test_profile_takes_partition_and_account_from_environment(tmp_path):
    """The profile's YTE template: set variables become quoted resources, unset ones are left out."""
    (tmp_path / "Snakefile").write_text(textwrap.dedent("""
        rule show:
            output: 'resources.json'
            run:
                import json
                keys = ('slurm_partition', 'slurm_account', 'runtime')
                json.dump({k: resources[k] for k in keys if k in resources.keys()}, open(output[0], 'w'))
        """))
    base = {k: v for k, v in os.environ.items() if not k.startswith("YOLOV12_SLURM_")}
    base["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    seen = []
    for extra in ({}, {"YOLOV12_SLURM_PARTITION": "gpu-a100", "YOLOV12_SLURM_ACCOUNT": "input"}):
        (tmp_path / "resources.json").unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--profile", str(PROFILE), "--executor", "local",
                               "--cores", "1", "--directory", str(tmp_path)], cwd=tmp_path, env={**base, **extra},
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        seen.append(json.loads((tmp_path / "resources.json").read_text()))
    assert seen[0] == {"runtime": 60}
    # "input" would evaluate to a Snakemake object if the profile did not quote it
    assert seen[1] == {"runtime": 60, "slurm_partition": "gpu-a100", "slurm_account": "input"}


def test_sacct_field_parsers():
    assert parse_mem_mb("300M") == 300 and parse_mem_mb("1.50G") == 1536 and parse_mem_mb("4000Mc") == 4000
    assert parse_mem_mb("") is None
    assert parse_minutes("00:07:00") == 7 and parse_minutes("1-02:03:30") == 1563.5 and parse_minutes("05:00") == 5
    assert parse_minutes("UNLIMITED") is None
    with pytest.raises(ValueError, match="ReqMem"):
        parse_mem_mb("lots")


def test_slurm_cluster_refuses_a_host_name_not_on_127_0_0_1():
    """SLURM binds to what the host name resolves to: with no /etc/hosts line slurmdbd dies, on Debian's 127.0.1.1
    every job step hangs. Both are refused before anything starts, in one line that says how to fix it."""
    from cluster import Unavailable
    from cluster.slurm import _require_host_name_on_127_0_0_1 as require_127

    require_127("localhost")
    fix = r"127\.0\.0\.1 line of /etc/hosts"
    with pytest.raises(Unavailable, match=r"resolves to 127\.0\.1\.1, not 127\.0\.0\.1 only.*" + fix):
        require_127("127.0.1.1")
    with pytest.raises(Unavailable, match=r"'no-such-host\.invalid' does not resolve.*" + fix):
        require_127("no-such-host.invalid")


# ---- MLflow on PostgreSQL under concurrent writers ------------------------------------------------------------

N_PROCESSES, N_PARAMS, N_METRICS, N_STEPS = 8, 30, 40, 20

WORKER = """
import sys, time
from pathlib import Path
import mlflow

uri, experiment_id, worker, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
n_params, n_metrics, n_steps = (int(a) for a in sys.argv[5:8])
mlflow.set_tracking_uri(uri)
print("ready", flush=True)
while not go.exists():  # start together, so that the writes overlap
    time.sleep(0.01)
with mlflow.start_run(experiment_id=experiment_id, run_name=f"worker-{worker}") as run:
    mlflow.log_params({f"p{k:02d}": f"{worker}-{k}" for k in range(n_params)})
    for step in range(n_steps):
        mlflow.log_metrics({f"m{k:02d}": worker * 1000 + k + step / 100 for k in range(n_metrics)}, step=step)
print(run.info.run_id, flush=True)
"""


def test_concurrent_runs_on_postgres_backed_mlflow_lose_nothing(mlflow_server, tmp_path):
    import mlflow
    import psycopg2

    client = mlflow.MlflowClient(mlflow_server.tracking_uri)
    experiment_id = client.create_experiment(f"concurrency-{tmp_path.name}")
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, mlflow_server.tracking_uri, experiment_id, str(w),
                               str(go), str(N_PARAMS), str(N_METRICS), str(N_STEPS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for w in range(N_PROCESSES)]
    try:
        for p in procs:  # every writer has imported MLflow before any starts
            assert p.stdout.readline().strip() == "ready", p.stderr.read()[-2000:]
        start = time.monotonic()
        go.touch()
        outputs = [p.communicate(timeout=180) for p in procs]
        elapsed = time.monotonic() - start
    finally:
        for p in procs:
            p.kill() if p.poll() is None else None
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-2000:]
    run_ids = {out.split()[-1] for out, _ in outputs}
    assert len(run_ids) == N_PROCESSES

    # through the server: every run finished, with all its parameters and the last value of every metric
    runs = client.search_runs([experiment_id], max_results=1000)
    assert {r.info.run_id for r in runs} == run_ids
    worker_of_run = {}
    for r in runs:
        worker = worker_of_run[r.info.run_id] = int(r.info.run_name.split("-")[1])
        assert r.info.status == "FINISHED", r.info
        assert r.data.params == {f"p{k:02d}": f"{worker}-{k}" for k in range(N_PARAMS)}
        assert r.data.metrics == {f"m{k:02d}": _value(worker, k, N_STEPS - 1) for k in range(N_METRICS)}
        history = client.get_metric_history(r.info.run_id, "m07")  # one history per run through the API ...
        assert sorted((m.step, m.value) for m in history) == [(s, _value(worker, 7, s)) for s in range(N_STEPS)]
    assert sorted(worker_of_run.values()) == list(range(N_PROCESSES))

    # ... and every stored point straight from PostgreSQL: there, exactly once each, with its value
    with psycopg2.connect(mlflow_server.backend_uri) as conn, conn.cursor() as cur:
        cur.execute("SELECT m.run_uuid, m.key, m.step, m.value FROM metrics m JOIN runs r ON r.run_uuid = m.run_uuid "
                    "WHERE r.experiment_id = %s", (int(experiment_id),))
        points = cur.fetchall()
        counts = {"metric points": len(points)}
        for table in ("params", "latest_metrics", "runs"):
            join = "" if table == "runs" else " t JOIN runs r ON r.run_uuid = t.run_uuid"
            cur.execute(f"SELECT count(*) FROM {table}{join} WHERE experiment_id = %s", (int(experiment_id),))
            counts[table] = cur.fetchone()[0]
    conn.close()
    print(f"\n{N_PROCESSES} writers in {elapsed:.1f} s; stored {counts}")
    expected = sorted((run_id, f"m{k:02d}", s, _value(w, k, s))
                      for run_id, w in worker_of_run.items() for k in range(N_METRICS) for s in range(N_STEPS))
    assert sorted(points) == expected
    assert counts == {"metric points": N_PROCESSES * N_METRICS * N_STEPS, "params": N_PROCESSES * N_PARAMS,
                      "latest_metrics": N_PROCESSES * N_METRICS, "runs": N_PROCESSES}


def _value(worker: int, key: int, step: int) -> float:
    """The value the WORKER script logs; distinct for every (worker, metric, step)."""
    return worker * 1000 + key + step / 100


def test_slurm_states_read_by_first_word_through_the_plugins_own_query():
    """The plugin's real status query, wrapped (yolov12.workflow.slurm_states): sacct's ``CANCELLED by 0`` reaches
    the plugin as ``CANCELLED`` (one of its failure states), an unrequeued ``PREEMPTED`` as ``FAILED``."""
    import asyncio
    import logging
    import shlex

    plugin = pytest.importorskip("snakemake_executor_plugin_slurm")
    from yolov12.workflow import slurm_states

    assert slurm_states.install()
    sacct_like = "1|CANCELLED by 0\n2|PREEMPTED\n3|TIMEOUT\n4|RUNNING\n5|NODE_FAIL\n6|COMPLETED\n7|OUT_OF_MEMORY\n"
    command = shlex.join(["printf", sacct_like])
    states, seconds = asyncio.run(plugin.query_job_status(command, logging.getLogger("test")))
    assert states == {"1": "CANCELLED", "2": "FAILED", "3": "TIMEOUT", "4": "RUNNING", "5": "NODE_FAIL",
                      "6": "COMPLETED", "7": "OUT_OF_MEMORY"}
    assert seconds is not None
    failed = {k for k, v in states.items() if v in slurm_states.FAILED}
    assert failed == {"1", "2", "3", "5", "7"}
    assert slurm_states.state_word("CANCELLED+") == "CANCELLED"
    assert slurm_states.REASONS[slurm_states.state_word("CANCELLED by 1000")] == "cancelled"


def test_test_daemons_listen_on_loopback_only(slurm_cluster, mlflow_server):
    """Every TCP listener of the fixtures' daemons (munged, mariadbd, slurmdbd, slurmctld, slurmd, postgres, mlflow
    and their children) is on 127.0.0.1: nothing on 0.0.0.0 or ::."""
    from cluster import non_loopback, tcp_listeners

    pids = [p.pid for d in (slurm_cluster.daemons, mlflow_server.daemons) for _n, p, _l in d.procs]
    listeners = tcp_listeners(pids)
    ss = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True, check=False).stdout if \
        shutil.which("ss") else "(no ss)"
    print("\nss -ltnp during the cluster tests:\n" + ss)
    names = {p.pid: n for d in (slurm_cluster.daemons, mlflow_server.daemons) for n, p, _l in d.procs}
    print("fixture listeners:", [(a, port, names.get(pid, pid)) for a, port, pid in listeners])
    assert len(listeners) >= 5  # mariadbd, slurmdbd, slurmctld, slurmd, postgres, mlflow: all found
    assert non_loopback(listeners) == []
