"""Wall time of a job list on given cores and devices: the greedy schedule Snakemake's local executor follows.

Event simulation: whenever a job ends, every ready job that fits the free cores / devices starts, the longest
first (what keeps cores busy at the end); a timing job needs the whole node and, once it waits, stops new jobs
from starting (the node lock's gate, yolov12.workflow.node). Jobs that ask for more than the node has get the node.
"""

from __future__ import annotations

import heapq

from .model import Job


def wall_seconds(jobs: list[Job], cores: int, gpus: int) -> float:
    by_id = {j.id: j for j in jobs}
    waiting = {j.id: {a for a in j.after if a in by_id} for j in jobs}
    done: set[str] = set()
    running: list[tuple[float, str]] = []  # (end time, id)
    free_cpus, free_gpus, now = cores, gpus, 0.0

    def need(job: Job) -> tuple[int, int]:
        if job.exclusive:
            return cores, gpus
        return min(job.cpus, cores), min(job.gpus, gpus)

    while len(done) < len(jobs):
        ready = sorted((by_id[i] for i, deps in waiting.items() if not deps), key=lambda j: -j.seconds)
        gate = False  # a ready timing job that cannot start yet holds the gate
        for job in ready:
            cpus, devs = need(job)
            fits = cpus <= free_cpus and devs <= free_gpus
            if job.exclusive and not fits:
                gate = True
                continue
            if fits and not (gate and not job.exclusive):
                free_cpus, free_gpus = free_cpus - cpus, free_gpus - devs
                heapq.heappush(running, (now + job.seconds, job.id))
                del waiting[job.id]
        if not running:
            raise RuntimeError("a job can never start: its dependencies form a cycle")  # a bug in model.jobs
        now, finished = heapq.heappop(running)
        cpus, devs = need(by_id[finished])
        free_cpus, free_gpus = free_cpus + cpus, free_gpus + devs
        done.add(finished)
        for deps in waiting.values():
            deps.discard(finished)
    return now
