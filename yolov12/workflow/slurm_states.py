"""Job states as the SLURM executor plugin should read them (a workaround, installed by workflows/common.smk).

The defect (snakemake-executor-plugin-slurm 2.8.0, and its source at the time of writing): the plugin reads
``sacct --parsable2 --format=JobIdRaw,State`` and compares the whole State field with its list of failure states.
sacct writes a cancelled job as ``CANCELLED by <uid>``, which is in no list, so the job is taken as still running
and the workflow waits for it forever: no retry, no error. A ``PREEMPTED`` job is left to SLURM to requeue even when
nothing will requeue it (no ``--requeue``), with the same result.

The workaround wraps the plugin's status query, so every state is read by its first word (``CANCELLED by 0`` ->
``CANCELLED``) and a preempted job that SLURM will not requeue counts as failed: the plugin then reports the failure
at the first poll that sees the state, and Snakemake resubmits the job while it has retries left (a training
resumes from its last whole checkpoint). Nothing else of the plugin changes; when it is fixed upstream the wrapper
changes nothing either.

Only the main Snakemake process installs it (jobs inside a SLURM allocation do not poll SLURM).
"""

from __future__ import annotations

import sys
from typing import Any

# what the plugin treats as failed (its own list), plus PREEMPTED below; any other state is "still active"
FAILED = ("BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "TIMEOUT", "ERROR")
# the reason of an attempt, as attempts.json records it, for a SLURM job's final state
REASONS = {"CANCELLED": "cancelled", "PREEMPTED": "preempted", "TIMEOUT": "time limit", "DEADLINE": "time limit",
           "NODE_FAIL": "node failure", "BOOT_FAIL": "node failure", "OUT_OF_MEMORY": "out of memory",
           "FAILED": "failed", "ERROR": "failed", "COMPLETED": "completed"}

_installed = False
_requeue = False  # the plugin's --slurm-requeue, learnt when its executor starts (after the Snakefile's parse)


def state_word(raw: str) -> str:
    """``CANCELLED by 0`` -> ``CANCELLED``; ``CANCELLED+`` (a truncated column) -> ``CANCELLED``."""
    words = raw.strip().split()
    return words[0].rstrip("+") if words else ""


def normalise(states: dict[str, str], requeue: bool) -> dict[str, str]:
    """The plugin's job-id -> state map, with each state as the plugin can compare it."""
    out = {}
    for job_id, raw in states.items():
        word = state_word(raw)
        if word == "PREEMPTED" and not requeue:
            # not requeued by SLURM: nothing will ever run it again unless Snakemake resubmits it. A print, not
            # logging: this runs inside Snakemake's executor plugin, whose logging is Snakemake's, not configured by us
            print(f"SLURM job {job_id} was preempted ({raw!r}): counted as failed, resubmitted if retries remain",
                  file=sys.stderr, flush=True)
            word = "FAILED"
        out[job_id] = word
    return out


def install() -> bool:
    """Wrap the plugin's status query; False (and nothing done) when the plugin is not installed."""
    global _installed
    try:
        import snakemake_executor_plugin_slurm as plugin
    except ImportError:
        return False
    if _installed:
        return True
    query, post_init = plugin.query_job_status, plugin.Executor.__post_init__

    async def query_job_status(command: str, logger: Any):
        states, seconds = await query(command, logger)
        return (None if states is None else normalise(states, _requeue)), seconds

    def __post_init__(self, *args: Any, **kwargs: Any) -> None:
        global _requeue
        _requeue = bool(getattr(self.workflow.executor_settings, "requeue", False))
        post_init(self, *args, **kwargs)

    plugin.query_job_status = query_job_status  # looked up as a module global at each poll
    plugin.Executor.__post_init__ = __post_init__
    _installed = True
    return True


def attempt_reason(job_id: str, env: dict[str, str] | None = None) -> str | None:
    """Why SLURM job ``job_id`` ended (``REASONS``), from sacct; None when sacct cannot tell (no SLURM, no record)."""
    import shutil
    import subprocess

    if not job_id or shutil.which("sacct") is None:
        return None
    try:
        proc = subprocess.run(["sacct", "-X", "-n", "-P", "-j", str(job_id), "-o", "State"], capture_output=True,
                              text=True, timeout=30, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return None
    return REASONS.get(state_word(lines[-1]))
