"""One process of a timing session: ``python -m yolov12.latency.worker IN.json OUT.json`` (run by
``yolov12.latency.session``; not a user command).

IN holds the cells in the order this process times them, the timing plan and the harness options. Each model is
built once per process (``yolov12.latency.core.Bench``) and every cell gets its own warm-up and conditions record.
OUT holds ``{"process", "env", "method", "models", "cells"}``, the cells in IN's order.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def _model_key(model: dict) -> str:
    return json.dumps(model, sort_keys=True)


def run(job: dict) -> dict:
    from .cell import line
    from .core import Bench, Setting, method_record
    from .env import capture_env, load_average
    from .stats import TimingPlan, finite

    plan = TimingPlan(**job["plan"])
    harness = dict(job.get("harness") or {})
    bench_args = {k: harness.pop(k) for k in ("fuse", "tolerances", "conf", "iou", "max_det", "det_min_match")
                  if k in harness}
    tf32 = bool(harness.pop("tf32", False))
    workdir = harness.pop("workdir", None)
    threads = sorted({c["threads"] for c in job["cells"]})
    env = capture_env(threads[0] if len(threads) == 1 else None)
    benches: dict[str, Bench] = {}
    cells = []
    with tempfile.TemporaryDirectory(prefix="yolov12-latency-") as tmp:
        wd = Path(workdir) if workdir else Path(tmp)
        wd.mkdir(parents=True, exist_ok=True)
        for c in job["cells"]:
            key = _model_key(c["model"])
            if key not in benches:
                benches[key] = Bench(c["model"], options=harness, **bench_args)
            s = Setting(c["device"], tuple(c["imgsz"]), c["batch"], c["backend"], c["scope"], c["precision"],
                        c["runtime"], c["threads"])
            cell = benches[key].cell(s, env, wd, plan, tf32)
            cells.append(cell)
            if job.get("verbose"):
                print(f"[process {job['process']}] {line(cell)}", file=sys.stderr, flush=True)
    env["loadavg_end"] = load_average()
    method = method_record(plan, threads, bench_args.get("fuse", True), tf32, bench_args.get("tolerances"),
                           *(bench_args.get(k, d) for k, d in (("det_min_match", Bench.__init__.__kwdefaults__[
                               "det_min_match"]), ("conf", 0.25), ("iou", 0.7), ("max_det", 300))))
    return finite({"process": job["process"], "env": env, "method": method,
                   "models": {b.name: b.info for b in benches.values()}, "cells": cells})


def main(argv: list[str] | None = None) -> int:
    src, dst = (argv if argv is not None else sys.argv[1:])
    out = run(json.loads(Path(src).read_text()))
    Path(dst).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
