"""The calibration probe (``yolov12 workflow plan --calibrate``): what a job costs on this machine, measured.

Three parts. (1) In this process, per scale: seconds per image of one training step (forward, Ultralytics' detection
loss on a few boxes, backward, SGD step) and of evaluation (forward in eval mode, batched) at ``PROBE_IMGSZ``, of
batch-1 inference (fused) at ``TIMING_IMGSZ``, and seconds to count one architecture's parameters and FLOPs at
``TIMING_IMGSZ`` (the complexity session's per-model part), on one thread (the plan scales by pixel count).
(2) Two real timing sessions (``yolov12.latency.session``: 1 and 3 cells of scale N at ``TIMING_IMGSZ``, 2 fresh
processes each): each process's wall time less its cells' warm-up and timed phases is start-up + cells x per-cell
overhead; the two cell counts separate the two (``session_s``). (3) A micro workflow (one job of every kind, 1 epoch
on 16 images) run by Snakemake in a temporary folder: each kind's fixed cost is its measured time (Snakemake's
``benchmark:`` files: CPU time, on one core an idle machine's wall time; a timing job's wall time) less the parts
(1) and (2), and its peak memory is the measured max RSS. Imports torch: only this command uses it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROBE_IMGSZ = 128
PROBE_BATCH = 4
# inference and complexity are measured where the paper and the default measure them: at small sizes a batch-1
# forward is mostly fixed per-layer cost, and scaling it by pixel count overstated 640 px by 2.6x (issue 19)
TIMING_IMGSZ = 640
# the session probe's cells: YOLOv12-N, then two more architectures of its size (the 1-cell session uses the first)
SESSION_CELLS = ({"family": "yolov12", "scale": "n"}, {"family": "yolov12", "scale": "n", "knobs": {"area": 1}},
                 {"family": "yolov12-turbo", "scale": "n"})
# the micro workflow: the default's data settings (its area-attention constraints hold), tiny budgets
MICRO_STUDY = {"study": "probe", "table": "Table 2", "title": "the cost probe: one job of every kind",
               "scales": ["n"], "measure": ["train", "evaluate", "complexity", "latency", "export"],
               "variants": {"base": {}}}
MICRO_CONFIG = {
    "name": "cost-probe", "studies": ["probe"], "scales": ["n"], "seeds": [0], "opt_in": [],
    "data": {"kind": "synthetic", "synthetic": {"n_train": 16, "n_val": 8, "imgsz": 128, "height": 96, "nc": 3,
                                                "max_objects": 4, "seed": 0}},
    "train": {"epochs": 1, "imgsz": 128, "batch": 8, "workers": 0,
              "recipe": {"nbs": 8, "val": False, "warmup_epochs": 0, "close_mosaic": 0, "plots": False}},
    "evaluate": {"batch": 8}, "bootstrap": {"n_boot": 100},
    "latency": {"imgsz": TIMING_IMGSZ, "threads": 1, "warmup_iters": 1, "warmup_s": 0, "min_iters": 5, "min_s": 0},
    "complexity": {"imgsz": 640}, "export": {"imgsz": 128},
}


def _timed(fn, repeats: int) -> float:
    """CPU seconds per call, on one thread: what a call takes on an idle core, whatever else loads the machine
    (wall time on a shared machine measures the neighbours too)."""
    fn()  # warm-up: allocation, lazy init
    start = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - start) / repeats


def per_image_costs(scale: str) -> dict[str, float]:
    import torch

    from ...models import torch_model

    torch.manual_seed(0)
    model = torch_model("yolov12", scale, "detect", "full", 80)
    from ultralytics.utils import DEFAULT_CFG

    model.args = DEFAULT_CFG  # the loss reads its gains (box, cls, dfl) from here, as in training
    imgs = torch.rand(PROBE_BATCH, 3, PROBE_IMGSZ, PROBE_IMGSZ)
    batch = {"img": imgs, "batch_idx": torch.arange(PROBE_BATCH).float(), "cls": torch.zeros(PROBE_BATCH, 1),
             "bboxes": torch.tensor([[0.5, 0.5, 0.3, 0.3]] * PROBE_BATCH)}
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def train_step():
        model.train()
        opt.zero_grad()
        loss, _ = model.loss(batch)
        loss.sum().backward()
        opt.step()

    def eval_step():
        model.eval()
        with torch.inference_mode():
            model(imgs)

    train = _timed(train_step, 2) / PROBE_BATCH
    evaluate = _timed(eval_step, 2) / PROBE_BATCH
    fused = model.eval().fuse(verbose=False)
    one = torch.rand(1, 3, TIMING_IMGSZ, TIMING_IMGSZ)
    with torch.inference_mode():
        infer = _timed(lambda: fused(one), 3)
    params = sum(p.numel() for p in model.parameters())
    from ..complexity_job import count

    arch = {"family": "yolov12", "scale": scale, "task": "detect", "hierarchy": "full", "knobs": {}, "nc": 80}
    complexity = _timed(lambda: count(arch, TIMING_IMGSZ), 1)
    return {"train": train, "eval": evaluate, "infer": infer, "params": params, "complexity": complexity}


def session_costs(log=print) -> dict[str, float]:
    """A timing session's start-up per process and fixed part per cell, from two real sessions (module docstring):
    per process, wall - (warm-up + timed phase of its cells) = startup + cells x per_cell."""
    from ...latency.session import SessionSettings, run_session, session_cell

    settings = SessionSettings(processes=2, warmup_iters=2, warmup_s=0.2, min_iters=5, min_s=0.5)
    fixed = {}
    for n in (1, 3):
        cells = [session_cell(m, imgsz=TIMING_IMGSZ, threads=1) for m in SESSION_CELLS[:n]]
        log(f"probe: a timing session of {n} cell(s) x {settings.processes} processes at {TIMING_IMGSZ} px")
        result = run_session(cells, settings, verbose=False)
        if any(c.get("status") != "ok" for c in result["cells"]):
            raise RuntimeError(f"the probe's timing session failed: {[c.get('reason') for c in result['cells']]}")
        per_process = []
        for p, wall in enumerate(result["session"]["process_wall_s"]):
            phases = 0.0
            for cell in result["cells"]:
                run = next(r for r in cell["processes"] if r["process"] == p)
                warmup = max(settings.warmup_iters * run["median_ms"] / 1000, settings.warmup_s)
                phases += warmup + run["timed_s"]
            per_process.append(wall - phases)
        fixed[n] = sum(per_process) / len(per_process)
    per_cell = max((fixed[3] - fixed[1]) / 2, 0.0)
    return {"startup": round(max(fixed[1] - per_cell, 0.0), 2), "per_cell": round(per_cell, 2)}


def micro_workflow(basedir: Path, workdir: Path) -> Path:
    """Run the micro workflow; returns its benchmarks folder."""
    import yaml

    (workdir / "ablations").mkdir()
    (workdir / "ablations" / "probe.yaml").write_text(yaml.safe_dump(MICRO_STUDY, sort_keys=False))
    cfg = workdir / "cost-probe.yaml"
    cfg.write_text(yaml.safe_dump({**MICRO_CONFIG, "ablations_dir": str(workdir / "ablations")}))
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [str(snakemake if snakemake.exists() else "snakemake"), "-s", str(basedir / "Snakefile"), "--configfile",
           str(cfg), "--directory", str(workdir), "--cores", "1", "--quiet", "all"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the probe's micro workflow failed in {workdir}:\n{done.stderr[-2000:]}")
    return workdir / "results" / "cost-probe" / "benchmarks"


def calibrate(scales: list[str], basedir: str | Path, log=print) -> dict[str, Any]:
    """Measure; returns a calibration (calibration.validate's keys)."""
    import torch

    from . import measured
    from .calibration import validate

    torch.set_num_threads(1)
    costs = {}
    for scale in scales:
        log(f"probe: scale {scale} (train / eval steps at {PROBE_IMGSZ} px, inference and a complexity count at "
            f"{TIMING_IMGSZ} px, 1 thread)")
        costs[scale] = per_image_costs(scale)
    cal: dict[str, Any] = {
        "name": "probe", "device": "cpu", "threads": 1, "ref_imgsz": PROBE_IMGSZ, "infer_imgsz": TIMING_IMGSZ,
        "source": f"measured by the probe on {platform.node()} ({os.cpu_count()} CPUs, "
                  f"{platform.processor() or platform.machine()}) at "
                  f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC,"
                  f" load {os.getloadavg()[0]:.1f}",
        "train_s_per_image": {s: c["train"] for s, c in costs.items()},
        "eval_s_per_image": {s: c["eval"] for s, c in costs.items()},
        "infer_s_per_image": {s: c["infer"] for s, c in costs.items()},
        "complexity_s_per_model": {s: c["complexity"] for s, c in costs.items()},
        "session_s": session_costs(log),
        "params": {s: c["params"] for s, c in costs.items()}, "weights_bytes_per_param": 2,
    }
    log("probe: micro workflow (one job of every kind, 1 epoch on 16 images; about two minutes when idle)")
    with tempfile.TemporaryDirectory(prefix="yolov12-cost-probe-") as tmp:
        bench = micro_workflow(Path(basedir).resolve(), Path(tmp))
        from ..plan import make_plan

        plan = make_plan({**MICRO_CONFIG, "ablations_dir": str(Path(tmp) / "ablations")}, "the probe's micro config",
                         basedir)
        fixed, peak = measured.fit_fixed_costs(plan, {**cal, "overhead_s": {}}, bench)
    cal["overhead_s"], cal["peak_rss_mb"] = fixed, peak
    return validate(cal, "the probe")

