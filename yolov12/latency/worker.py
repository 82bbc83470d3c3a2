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
    from ..errors import UserError
    from .cell import empty_cell, line
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
                try:
                    benches[key] = Bench(c["model"], options=harness, **bench_args)
                except UserError:
                    raise  # bad input: the session stops and says so in one line (``main``)
                except Exception as e:  # noqa: BLE001  (a model that cannot be built fails its cells, not the others)
                    benches[key] = f"the model could not be built: {type(e).__name__}: {str(e)[:300]}"
            s = Setting(c["device"], tuple(c["imgsz"]), c["batch"], c["backend"], c["scope"], c["precision"],
                        c["runtime"], c["threads"], c.get("artifact"))
            bench = benches[key]
            if isinstance(bench, str):
                cell = empty_cell(model=c["model"].get("name") or key, device=s.device, precision=s.precision,
                                  runtime=s.runtime, batch=s.batch, imgsz_hw=list(s.imgsz), scope=s.scope,
                                  threads=s.threads, backend=s.backend, attn_backend=s.backend)
                cell.update(status="failed", reason=bench)
            else:
                cell = bench.cell(s, env, wd, plan, tf32)
            cells.append(cell)
            if job.get("verbose"):
                print(f"[process {job['process']}] {line(cell)}", file=sys.stderr, flush=True)
    env["loadavg_end"] = load_average()
    method = method_record(plan, threads, bench_args.get("fuse", True), tf32, bench_args.get("tolerances"),
                           *(bench_args.get(k, d) for k, d in (("det_min_match", Bench.__init__.__kwdefaults__[
                               "det_min_match"]), ("conf", 0.25), ("iou", 0.7), ("max_det", 300))))
    return finite({"process": job["process"], "env": env, "method": method,
                   "models": {b.name: b.info for b in benches.values() if not isinstance(b, str)}, "cells": cells})


def main(argv: list[str] | None = None) -> int:
    from ..errors import EXIT_USER, UserError

    src, dst = (argv if argv is not None else sys.argv[1:])
    try:
        out = run(json.loads(Path(src).read_text()))
    except UserError as e:  # handed to the session, which raises it again in the calling process
        Path(dst).write_text(json.dumps({"user_error": {"what": e.what, "file": None if e.file is None else
                                                        str(e.file), "key": e.key, "allowed": e.allowed}}))
        return EXIT_USER
    Path(dst).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
