"""The paper's latency tables beside this config's timing cells: Table 1 (latency per scale), Table 3 (area attention
off/on, with the speed-up and its interval) and Table 4 (the paper's three GPUs beside YOLOv12 and its peers timed on
this hardware in the same run).

Every timing cell of ours states its median, its 95 % interval, image size, iterations and the kernel that ran
(``timing.timing_text``). Milliseconds of different settings never get a Δ: a Δ is printed only where the device,
precision, runtime and image size are the paper's."""

from __future__ import annotations

from ..peers import SIZE_CLASS
from ..registry import SCALES
from .cells import NOT_IN_PAPER, NOT_RUN, Ctx, comparison_cell, fmt, ratio_text, refs_cell, timing_cell, val
from .latency_ratios import ratio, vs_paper
from .model import Cell, Table, dash
from .paper import paper_rows, paper_table
from .paper_tables import scale_label
from .parse import num
from .timing import PAPER_IMGSZ, NOT_TIMED, Setting, pick, settings_of, size_text

def lat_method(ctx: Ctx) -> str:
    return (f"Ours: median ms [95 % interval] (image size, processes \u00d7 iterations, run-to-run CV, kernel), "
            f"{ctx.processes_text()}; the interval comes from the spread between independent processes (Student t "
            "on the log of the per-process medians), a cell timed in one process says its interval is within-run. ")

RATIO_METHOD = ("A ratio of two of our cells is the geometric mean of the per-process ratios of the processes that "
                "timed both in one session (latency_runs.csv), with its Student t 95 % interval, and says how many "
                "paired runs it rests on; a contended cell, cells of different sessions or a within-run interval give "
                "no ratio (the gap says which).")

PAPER_T1 = "T4 TensorRT FP16, 640\u00d7640"


def gpu_key(device_name: str) -> str | None:
    """The paper's GPU a device name is (rtx3080, a5000, a6000, t4), or None."""
    name = device_name.lower().replace(" ", "")
    for key, needle in (("rtx3080", "3080"), ("a5000", "a5000"), ("a6000", "a6000"), ("t4", "teslat4")):
        if needle in name:
            return key
    return "t4" if name.endswith("t4") or "nvidiat4" in name else None


def paper_comparable(setting: Setting, gpu: str, runtime: str | None = None) -> bool:
    return (gpu_key(setting.device_name) == gpu and setting.size == PAPER_IMGSZ and setting.batch == 1
            and (runtime is None or setting.runtime == runtime))


def table1_latency(ctx: Ctx) -> Table:
    t = Table("table1_latency", "1 (latency)", "YOLOv12 latency per scale, per measured setting",
              f"The paper's Table 1 latency ({PAPER_T1}) and ours, one row per setting measured here (device, "
              "precision, runtime, image size, batch). " + lat_method(ctx) + "Rows of different settings are not "
              "comparable; \u0394 (ours \u2212 paper, ms, with our cell's interval) is printed only for a row measured "
              "in the paper's own setting.", ["Setting"] + [s.upper() for s in SCALES] + ["Ref."],
              align="l" + "r" * len(SCALES) + "l", wide=True)
    runs = [r for r in ctx.results.runs_in_table("1") if r.task == "detect"]
    for family in ["yolov12"] + (["yolov12-turbo"] if any(r.family == "yolov12-turbo" for r in runs) else []):
        fam_runs = [r for r in runs if r.family == family]
        label = "YOLOv12" if family == "yolov12" else "YOLOv12-turbo"
        if family == "yolov12":
            paper = {s: num(paper_rows()[f"t1.yolov12-{s}"]["latency_t4_trt_fp16_ms"]) for s in SCALES}
            src = "paper Table 1"
        else:
            paper = {s: num(paper_rows()[f"readme.turbo.{s}"]["latency_t4_trt_ms"]) for s in SCALES}
            src = "official README"
        t.add([Cell(f"{label}, {src}: {PAPER_T1}", strong=True)] + [val(paper[s], 2) for s in SCALES] + [Cell("")],
              rule=True)
        settings = settings_of(fam_runs)
        if not settings:
            reason = pick(fam_runs[0] if fam_runs else None)[1] if fam_runs else NOT_RUN
            t.add([Cell(f"{label}, ours")] + [dash(reason or NOT_TIMED)] * len(SCALES) + [Cell("")])
        for setting in settings:
            cells, ids, values = [Cell(f"{label}, ours: {setting.label}")], [], {}
            for s in SCALES:
                run = next((r for r in fam_runs if r.scale == s), None)
                row, reason = pick(run, setting=setting)
                values[s] = row
                cells.append(timing_cell(row, reason))
                ids += [i for i in ctx.refs.run(run, kinds=(), latency_rows=[row]) if i not in ids]
            t.add(cells + [refs_cell(ids)])
            if paper_comparable(setting, "t4", "tensorrt") and setting.precision == "fp16":
                t.add([Cell("  \u0394 vs paper (same setting)")]
                      + [comparison_cell(vs_paper(values[s], paper[s])) for s in SCALES] + [Cell("")])
    return t


T3_COLS = (("cpu", "fp32", ("cpu_ms",)), ("cuda", "fp32", ("rtx3080_fp32_ms", "a5000_fp32_ms")),
           ("cuda", "fp16", ("rtx3080_fp16_ms", "a5000_fp16_ms")))


def table3(ctx: Ctx) -> Table:
    t = Table("table3", "3", "Area attention: inference latency with and without it",
              "Median latency in ms. Paper: CPU = Intel Core i7-10700K; GPU = RTX 3080 / RTX A5000 (no "
              "FlashAttention), all at 640\u00d7640. " + lat_method(ctx) + "Off and on in the same setting, "
              "FlashAttention avoided. Hardware differs, so compare the speed-up rows (off \u00f7 on), and only at "
              "the same image size. " + RATIO_METHOD,
              ["", "", "ours", "paper", "ours", "paper", "ours", "paper", ""],
              groups=[("Model", 1), ("Area attention", 1), ("CPU FP32 (ms)", 2), ("GPU FP32 (ms)", 2),
                      ("GPU FP16 (ms)", 2), ("Ref.", 1)], align="ll" + "r" * 6 + "l", wide=True)
    runs = ctx.results.runs_in_table("3")
    scales = [s for s in SCALES if any(p["scale"] == s for p in paper_table("table3_area_attention"))
              or any(r.scale == s for r in runs)]
    for s in scales:
        off_run = next((r for r in runs if f"t3.{s}.off" in r.paper), None)
        on_run = next((r for r in runs if f"t3.{s}.on" in r.paper), None)
        p_off, p_on = paper_rows().get(f"t3.{s}.off"), paper_rows().get(f"t3.{s}.on")
        picked = []  # per column: (off row, on row, reasons)
        for dev, prec, _ in T3_COLS:
            off, why_off = pick(off_run, dev, prec, avoid_flash=True)
            on, why_on = (pick(on_run, setting=Setting.of(off), avoid_flash=True) if off is not None else
                          pick(on_run, dev, prec, avoid_flash=True))
            picked.append((off, on, why_off or NOT_RUN, why_on or NOT_RUN))
        for area, run, p, k in (("off", off_run, p_off, 0), ("on", on_run, p_on, 1)):
            cells, ids = [Cell(scale_label(s)), Cell(area)], []
            for (dev, prec, cols), pk in zip(T3_COLS, picked):
                row = pk[k]
                cells.append(timing_cell(row, pk[k + 2]))
                cells.append(Cell(" / ".join(fmt(num(p.get(c)), 1) or "\u2014" for c in cols)) if p else
                             dash(NOT_IN_PAPER))
                ids += [i for i in ctx.refs.run(run, kinds=(), latency_rows=[row]) if i not in ids]
            t.add(cells + [refs_cell(ids)], rule=area == "off")
        cells = [Cell(scale_label(s)), Cell("speed-up (off \u00f7 on)", strong=True)]
        for (dev, prec, cols), (off, on, _, _) in zip(T3_COLS, picked):
            if off is not None and on is not None:
                cells.append(comparison_cell(ratio(off, on, ctx.runs), f", {size_text(Setting.of(off).size)}"))
            else:
                cells.append(dash("off or on not timed in this setting"))
            paper_r = [num(p_off.get(c)) / num(p_on.get(c)) for c in cols
                       if p_off and p_on and num(p_off.get(c)) and num(p_on.get(c))]
            cells.append(Cell(" / ".join(ratio_text(x) for x in paper_r)) if paper_r else dash())
        t.add(cells + [Cell("")])
        for run in runs:  # other variants of the study (e.g. other area counts): ours only
            if run.scale == s and run not in (off_run, on_run) and not any(p.startswith("t3.") for p in run.paper):
                cells, ids = [Cell(scale_label(s)), Cell(run.variant)], []
                for (dev, prec, _), (off, _, why, _) in zip(T3_COLS, picked):
                    row, reason = pick(run, setting=Setting.of(off)) if off is not None else pick(run, dev, prec)
                    cells += [timing_cell(row, reason), dash(NOT_IN_PAPER)]
                    ids += ctx.refs.run(run, kinds=(), latency_rows=[row])
                t.add(cells + [refs_cell(list(dict.fromkeys(ids)))])
    return t


T4_GPUS = (("rtx3080", "RTX 3080"), ("a5000", "RTX A5000"), ("a6000", "RTX A6000"))


def _yolov12_of(runs, peer_scale: str):
    """Our YOLOv12 run of the paper's Table 4 at a peer's size class (YOLOv9-T beside YOLOv12-N)."""
    size = SIZE_CLASS.get(peer_scale, peer_scale)
    return next((r for r in runs if f"t4.yolov12.{size}" in r.paper), None)


def table4(ctx: Ctx) -> Table:
    runs = [r for r in ctx.results.runs_in_table("4") if r.task == "detect"]
    settings = settings_of(runs)
    matches = [(j, gpu_key(st.device_name)) for j, st in enumerate(settings)
               if gpu_key(st.device_name) in dict(T4_GPUS) and st.size == PAPER_IMGSZ]
    cols = ["Model", "Scale", "FLOPs (G)"] + [g for _, g in T4_GPUS]
    cols += [st.label for st in settings] or ["this config"]
    cols += [st.short for st in settings]
    cols += [f"\u0394 {settings[j].short}" for j, _ in matches] + ["Ref."]
    groups = [("", 3), ("paper, 640\u00d7640: FP32 / FP16 (ms)", 3),
              ("this hardware, same run: median [95 % interval] (ms)", max(len(settings), 1))]
    if settings:
        groups.append(("ours: model \u00f7 YOLOv12 of its size, same session", len(settings)))
    if matches:
        groups.append(("ours \u2212 paper (ms), same GPU and size", len(matches)))
    groups.append(("", 1))
    t = Table("table4", "4", "Inference speed: the paper's GPUs beside this hardware",
              "Left: the paper's Table 4 (FP32 / FP16 on three GPUs, 640\u00d7640). Right: YOLOv12 and the other "
              "detectors (study 'peers') timed on this hardware in the same run, one column per setting (device, "
              "precision, runtime, image size, batch). " + lat_method(ctx) + "Compare models within one column: each "
              "peer's ratio to the YOLOv12 of its size class timed in the same session. " + RATIO_METHOD
              + " A \u0394 to the paper (ours \u2212 paper with our cell's interval) is printed only on the paper's "
              "own GPU at 640\u00d7640.", cols, groups=groups,
              align="llr" + "r" * (3 + max(len(settings), 1) + len(settings) + len(matches)) + "l", wide=True)
    last = None
    for p in paper_table("table4_speed"):
        fam, s = p["family"], p["scale"]
        cells = [Cell(fam), Cell(s.upper()), val(num(p["flops_g"]), 1)]
        for key, _ in T4_GPUS:
            cells.append(Cell(f"{fmt(num(p[f'{key}_fp32_ms']))} / {fmt(num(p[f'{key}_fp16_ms']))}"))
        run = next((r for r in runs if p["row_id"] in r.paper), None)
        ids, ours = [], {}
        for j, setting in enumerate(settings):
            row, reason = pick(run, setting=setting) if run is not None else (None, NOT_RUN)
            ours[j] = row
            cells.append(timing_cell(row, reason))
            ids += [i for i in ctx.refs.run(run, kinds=(), latency_rows=[row]) if i not in ids]
        if not settings:
            cells.append(dash(NOT_RUN if run is None else NOT_TIMED))
        for j, setting in enumerate(settings):
            if fam == "YOLOv12":
                cells.append(Cell("reference") if ours[j] is not None else dash(NOT_RUN if run is None else NOT_TIMED))
                continue
            mine = _yolov12_of(runs, s)
            base = pick(mine, setting=setting)[0] if mine is not None else None
            cells.append(dash(NOT_RUN) if run is None else
                         dash(f"no YOLOv12 of size {SIZE_CLASS.get(s, s).upper()} timed") if mine is None else
                         comparison_cell(ratio(ours[j], base, ctx.runs)) if ours[j] is not None else
                         dash(pick(run, setting=setting)[1]))
        for j, key in matches:
            cells.append(comparison_cell(vs_paper(ours[j], num(p[f"{key}_{settings[j].precision}_ms"]))))
        t.add(cells + [refs_cell(ids)], rule=fam != last)
        last = fam
    if not any(r.study == "peers" for r in runs):
        t.note("No peers (YOLOv9/10/11) were timed in this config: their rows show the paper's numbers only.")
    t.note("The paper prints 1.5 ms for YOLOv12-M FP16 on the RTX 3080, below its S and L neighbours; kept as printed.")
    return t
