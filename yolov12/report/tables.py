"""The report's tables, built from the aggregated results beside the paper's numbers.

A table is format-neutral (``Table`` of ``Cell``); ``formats.py`` renders it as Markdown, LaTeX (booktabs) and Typst.
A cell without a value carries the reason (``Cell.reason``): Markdown prints "— (reason)", LaTeX/Typst print "—"
with a footnote letter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .data import (NOT_TIMED, SCALES, Results, Run, Setting, choose_setting, device_class, latency_ms, num, paper_rows,
                   paper_table, pick_latency, row_refs, table_key, truthy)

NOT_TRAINED = "not trained in this config"
NOT_COMPUTED = "not computed in this config"
NOT_RUN = "not run in this config"
NOT_REPORTED = "not reported in the paper"
NOT_IN_PAPER = "not in the paper"
SYNTHETIC = "synthetic data, not comparable"
NO_CONVERGE = "did not converge"


# ------------------------------------------------------------------------------------------------------------ model
@dataclass
class Cell:
    text: str = ""
    reason: str | None = None  # set: the value is missing; "" = a plain dash
    strong: bool = False

    @property
    def missing(self) -> bool:
        return self.reason is not None


def dash(reason: str = "") -> Cell:
    return Cell(reason=reason)


@dataclass
class Table:
    key: str  # file stem: table1, table5a, verdicts
    number: str  # "1", "1 (latency)", "5a"
    title: str
    caption: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    groups: list[tuple[str, int]] | None = None  # header groups spanning columns (label, span)
    align: str = ""  # one letter per column: l / r / c
    rules: set[int] = field(default_factory=set)  # row indices preceded by a rule
    notes: list[str] = field(default_factory=list)
    wide: bool = False

    @property
    def heading(self) -> str:
        return f"Table {self.number}: {self.title}" if self.number else self.title

    def add(self, cells: list[Cell], rule: bool = False) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.key}: row has {len(cells)} cells, expected {len(self.columns)}")
        if rule and self.rows:
            self.rules.add(len(self.rows))
        self.rows.append(cells)

    def flat_columns(self) -> list[str]:
        """Column labels with their group prefixed (for formats without multi-row headers)."""
        if not self.groups:
            return list(self.columns)
        out, i = [], 0
        for label, span in self.groups:
            for c in self.columns[i:i + span]:
                out.append(f"{label} {c}".strip() if label else c)
            i += span
        return out


# ------------------------------------------------------------------------------------------------------- formatting
def fmt(value: float | None, nd: int = 1) -> str:
    if value is None:
        return ""
    if value in (float("inf"), float("-inf")):
        return "inf"
    text = f"{value:.{nd}f}"
    return text.replace("-", "\u2212") if text.startswith("-") else text


def signed(value: float, nd: int = 1) -> str:
    text = f"{value:+.{nd}f}"
    if float(text) == 0:
        return f"{0:.{nd}f}"
    return text.replace("-", "\u2212")


def val(value: float | None, nd: int = 1, reason: str = "") -> Cell:
    return Cell(fmt(value, nd)) if value is not None else dash(reason)


def delta(ours: float | None, paper: float | None, nd: int = 1, synthetic: bool = False) -> Cell:
    if ours is None or paper is None:
        return dash()
    if synthetic:
        return dash(SYNTHETIC)
    return Cell(signed(ours - paper, nd))


def ratio_text(value: float | None, nd: int = 2) -> str:
    return "" if value is None else f"\u00d7{value:.{nd}f}"


def refs_cell(ids: list[str]) -> Cell:
    return Cell(", ".join(ids)) if ids else Cell("")


def pct(run: Run | None, metric: str) -> float | None:
    v = None if run is None else run.acc(metric)
    return None if v is None else 100.0 * v


def gflops(run: Run | None) -> float | None:
    return None if run is None or run.complexity is None else num(run.complexity.get("gflops"))


def params_m(run: Run | None) -> float | None:
    if run is None or run.complexity is None:
        return None
    v = num(run.complexity.get("params_fused"))
    v = num(run.complexity.get("params")) if v is None else v
    return None if v is None else v / 1e6


def is_synthetic(results: Results, run: Run | None, synthetic: bool) -> bool:
    return synthetic or (run is not None and "synth" in run.dataset.lower())


class Ctx:
    """What every builder needs: the results and the config-level synthetic flag."""

    def __init__(self, results: Results, synthetic: bool):
        self.results = results
        self.synthetic = synthetic
        self.refs = results.refs

    def syn(self, run: Run | None) -> bool:
        return is_synthetic(self.results, run, self.synthetic)

    def acc_missing(self, run: Run | None) -> str:
        if run is None or run.accuracy is None:
            return NOT_TRAINED
        if run.converged is False:
            return NO_CONVERGE
        return "not evaluated"

    def cx_missing(self, run: Run | None) -> str:
        return NOT_COMPUTED if run is None or run.complexity is None else "not computed"


def scale_label(scale: str, family: str = "yolov12") -> str:
    return f"{'YOLOv12-turbo' if family == 'yolov12-turbo' else 'YOLOv12'}-{scale.upper()}"


def runs_by_row(ctx: Ctx, row_id: str, family: str = "yolov12") -> list[Run]:
    return ctx.results.runs_for(row_id, family)


def first(runs: list[Run]) -> Run | None:
    return runs[0] if runs else None


# ----------------------------------------------------------------------------------------------------------- table 1
def _metric_group(ours, paper, nd, synthetic, reason, paper_reason=NOT_REPORTED, dnd=None):
    return [val(ours, nd, reason), val(paper, 1, paper_reason if paper is None else ""),
            delta(ours, paper, nd if dnd is None else dnd, synthetic)]


def table1(ctx: Ctx) -> Table:
    t = Table("table1", "1", "YOLOv12 per scale on COCO val2017: complexity and accuracy",
              "Ours beside the paper's Table 1 (the turbo family beside the official README). FLOPs follow the "
              "paper's convention (BN-fused, 640\u00d7640); params are BN-fused. AP in %. \u0394 = ours \u2212 paper.",
              ["", "ours", "paper", "\u0394", "ours", "paper", "\u0394", "ours", "paper", "\u0394", "ours", "paper",
               "\u0394", "ours", "paper", "\u0394", ""],
              groups=[("Model", 1), ("FLOPs (G)", 3), ("Params (M)", 3), ("AP50:95", 3), ("AP50", 3), ("AP75", 3),
                      ("Ref.", 1)], align="l" + "r" * 15 + "l", wide=True)
    runs = [r for r in ctx.results.runs_in_table("1") if r.task == "detect"]
    families = ["yolov12"] + (["yolov12-turbo"] if any(r.family == "yolov12-turbo" for r in runs) else [])
    for family in families:
        for i, s in enumerate(SCALES):
            if family == "yolov12":
                pid = f"t1.yolov12-{s}"
                p = paper_rows()[pid]
                paper = dict(flops=num(p["flops_g"]), params=num(p["params_m"]), ap=num(p["ap"]), ap50=num(p["ap50"]),
                             ap75=num(p["ap75"]))
            else:
                pid = f"readme.turbo.{s}"
                p = paper_rows()[pid]
                paper = dict(flops=num(p["flops_g"]), params=num(p["params_m"]), ap=num(p["map_box"]), ap50=None,
                             ap75=None)
            matched = [r for r in runs if pid in r.paper] or [None]
            for run in matched:
                syn = ctx.syn(run)
                acc_reason = ctx.acc_missing(run) if run is not None else NOT_TRAINED
                cx_reason = ctx.cx_missing(run)
                cells = [Cell(scale_label(s, family))]
                cells += _metric_group(gflops(run), paper["flops"], 2, False, cx_reason, dnd=2)
                cells += _metric_group(params_m(run), paper["params"], 2, False, cx_reason, dnd=2)
                for key, metric in (("ap", "AP"), ("ap50", "AP50"), ("ap75", "AP75")):
                    cells += _metric_group(pct(run, metric), paper[key], 1, syn, acc_reason)
                cells.append(refs_cell(row_refs(ctx.refs, run)))
                t.add(cells, rule=(i == 0))
    extra = [r for r in runs if not any(p.startswith(("t1.", "readme.turbo.")) for p in r.paper)]
    for run in extra:
        cells = [Cell(f"{run.label} ({run.variant})")]
        cells += _metric_group(gflops(run), None, 2, False, ctx.cx_missing(run), NOT_IN_PAPER)
        cells += _metric_group(params_m(run), None, 2, False, ctx.cx_missing(run), NOT_IN_PAPER)
        for metric in ("AP", "AP50", "AP75"):
            cells += _metric_group(pct(run, metric), None, 1, ctx.syn(run), ctx.acc_missing(run), NOT_IN_PAPER)
        cells.append(refs_cell(row_refs(ctx.refs, run)))
        t.add(cells, rule=run is extra[0])
    if ctx.synthetic:
        t.notes.append("Accuracy here comes from a synthetic smoke dataset; its \u0394 to COCO is not computed.")
    return t


def _settings_of(runs: list[Run]) -> list[tuple[str, str, str, str]]:
    """(device class, device name, precision, runtime) combos present in the runs' latency rows, in a stable order."""
    seen = []
    for run in runs:
        for row in run.latency:
            key = (device_class(row), row.get("device_name", "") or row.get("device", ""), row.get("precision", ""),
                   row.get("runtime", ""))
            if key not in seen:
                seen.append(key)
    order = {"cpu": 0, "cuda": 1}
    prec = {"fp32": 0, "fp16": 1, "bf16": 2}
    rt = {r: i for i, r in enumerate(("eager", "compile", "cudagraphs", "onnxruntime", "tensorrt"))}
    return sorted(seen, key=lambda k: (order.get(k[0], 9), k[1], prec.get(k[2], 9), rt.get(k[3], 9)))


def _gpu_key(device_name: str) -> str | None:
    name = device_name.lower().replace(" ", "")
    for key, needle in (("rtx3080", "3080"), ("a5000", "a5000"), ("a6000", "a6000"), ("t4", "teslat4")):
        if needle in name:
            return key
    if name.endswith("t4") or "nvidiat4" in name:
        return "t4"
    return None


def table1_latency(ctx: Ctx) -> Table:
    t = Table("table1_latency", "1 (latency)", "YOLOv12 latency per scale, per device, precision and runtime",
              "Median latency in ms measured here (per row: device, precision, runtime), beside the paper's Table 1 "
              "latency (T4 GPU, TensorRT FP16). \u0394 is shown only where the device and runtime match the paper's.",
              ["Setting"] + [s.upper() for s in SCALES] + ["Ref."], align="l" + "r" * len(SCALES) + "l")
    runs = [r for r in ctx.results.runs_in_table("1") if r.task == "detect"]
    families = ["yolov12"] + (["yolov12-turbo"] if any(r.family == "yolov12-turbo" for r in runs) else [])
    for family in families:
        fam_runs = [r for r in runs if r.family == family]
        if family == "yolov12":
            paper = {s: num(paper_rows()[f"t1.yolov12-{s}"]["latency_t4_trt_fp16_ms"]) for s in SCALES}
            src = "paper Table 1"
        else:
            paper = {s: num(paper_rows()[f"readme.turbo.{s}"]["latency_t4_trt_ms"]) for s in SCALES}
            src = "official README"
        label = "YOLOv12" if family == "yolov12" else "YOLOv12-turbo"
        t.add([Cell(f"{label}: {src}, T4 TensorRT FP16", strong=True)] + [val(paper[s], 2) for s in SCALES]
              + [Cell("")], rule=True)
        settings = _settings_of(fam_runs)
        if not settings:
            t.add([Cell(f"{label}: ours")] + [dash(NOT_TIMED)] + [dash()] * (len(SCALES) - 1)
                  + [Cell("")])
        for dev, name, prec, rt in settings:
            cells, ids, values = [Cell(f"{label}: {name} {prec} {rt}")], [], {}
            for s in SCALES:
                run = next((r for r in fam_runs if r.scale == s), None)
                if run is None:
                    cells.append(dash(NOT_RUN))
                    continue
                row, reason = pick_latency(run, dev, prec, runtime=rt, device_match=name)
                values[s] = latency_ms(row)
                cells.append(val(values[s], 2, reason))
                ids += [i for i in row_refs(ctx.refs, run, kinds=(), latency_rows=[row] if row else []) if i not in ids]
            t.add(cells + [refs_cell(ids)])
            if _gpu_key(name) == "t4" and rt == "tensorrt" and prec == "fp16" and values:
                t.add([Cell("  \u0394 vs paper")] + [delta(values.get(s), paper[s], 2) for s in SCALES] + [Cell("")])
    return t


# ----------------------------------------------------------------------------------------------------------- table 2
RELAN_DESIGN = {  # paper row suffix -> (aggregation, residual, scaling), our reading of Table 2's columns
    "elan": ("ELAN", "no", ""), "relan": ("R-ELAN", "no", ""), "relan_residual_0.1": ("R-ELAN", "yes", "0.1"),
    "relan_residual_0.01": ("R-ELAN", "yes", "0.01"), "elan_residual": ("ELAN", "yes", "0.01"),
}


def _converged_text(run: Run | None) -> Cell:
    if run is None or run.accuracy is None:
        return dash(NOT_TRAINED)
    c = run.converged
    if c is None:
        return dash("not recorded")
    if c:
        return Cell("yes")
    ep = run.diverged_epoch
    return Cell(f"no (diverged at epoch {ep})" if ep is not None else "no", strong=True)


def table2(ctx: Ctx) -> Table:
    t = Table("table2", "2", "R-ELAN ablation (aggregation, residual, layer scaling)",
              "Rows of the paper's Table 2 with our runs of the same design. A run that diverged shows "
              "\u201cdid not converge\u201d (converged = false in accuracy.csv) and the epoch it diverged at. "
              "AP in %, FLOPs in G, params in M (BN-fused).",
              ["", "", "", "", "ours", "paper", "ours", "paper", "\u0394", "ours", "paper", "\u0394", "ours", "paper",
               "\u0394", ""],
              groups=[("Model", 1), ("Aggregation", 1), ("Residual", 1), ("Scaling", 1), ("Converged", 2),
                      ("FLOPs (G)", 3), ("Params (M)", 3), ("AP50:95", 3), ("Ref.", 1)],
              align="llll" + "ll" + "r" * 9 + "l", wide=True)
    runs = ctx.results.runs_in_table("2")
    done: set[int] = set()
    last_scale = None
    for p in paper_table("table2_relan"):
        pid, s = p["row_id"], p["scale"]
        design = RELAN_DESIGN[pid.split(".", 2)[2]]
        p_conv = truthy(p["converged"])
        p_reason = NO_CONVERGE if p_conv is False else NOT_REPORTED
        matched = [r for r in runs if pid in r.paper] or [None]
        for run in matched:
            if run is not None:
                done.add(id(run))
            cells = [Cell(scale_label(s)), Cell(design[0]), Cell(design[1]), Cell(design[2])]
            cells += [_converged_text(run), Cell("yes" if p_conv else "no", strong=p_conv is False)]
            cx_reason = NOT_COMPUTED if run is None else ctx.cx_missing(run)
            cells += [val(gflops(run), 2, "" if run is None else cx_reason), val(num(p["flops_g"]), 1, p_reason),
                      delta(gflops(run), num(p["flops_g"]), 2)]
            cells += [val(params_m(run), 2, "" if run is None else cx_reason), val(num(p["params_m"]), 1, p_reason),
                      delta(params_m(run), num(p["params_m"]), 2)]
            acc_reason = "" if run is None else ctx.acc_missing(run)
            cells += [val(pct(run, "AP"), 1, acc_reason), val(num(p["ap"]), 1, p_reason),
                      delta(pct(run, "AP"), num(p["ap"]), 1, ctx.syn(run))]
            cells.append(refs_cell(row_refs(ctx.refs, run)))
            t.add(cells, rule=s != last_scale)
            last_scale = s
    extra = [r for r in runs if id(r) not in done]
    for run in extra:
        cells = [Cell(run.label), Cell(run.variant), Cell(""), Cell(""), _converged_text(run), dash(NOT_IN_PAPER)]
        cells += [val(gflops(run), 2, ctx.cx_missing(run)), dash(), dash()]
        cells += [val(params_m(run), 2, ctx.cx_missing(run)), dash(), dash()]
        cells += [val(pct(run, "AP"), 1, ctx.acc_missing(run)), dash(), dash()]
        cells.append(refs_cell(row_refs(ctx.refs, run)))
        t.add(cells, rule=run is extra[0])
    t.notes.append("For the N row with residual scaling 0.1 the paper prints no re-aggregation mark; its FLOPs and "
                   "params equal the R-ELAN row, so this report reads it as R-ELAN + residual.")
    return t


# ----------------------------------------------------------------------------------------------------------- table 3
T3_COLS = (("cpu", "fp32", ("cpu_ms",)), ("cuda", "fp32", ("rtx3080_fp32_ms", "a5000_fp32_ms")),
           ("cuda", "fp16", ("rtx3080_fp16_ms", "a5000_fp16_ms")))
T3_RUNTIME = ("eager", "compile", "cudagraphs", "onnxruntime", "tensorrt")


def _paper_pair(p: dict[str, str], cols) -> tuple[str, list[float | None]]:
    values = [num(p.get(c)) for c in cols]
    return " / ".join(fmt(v, 1) if v is not None else "\u2014" for v in values), values


def table3(ctx: Ctx) -> Table:
    t = Table("table3", "3", "Area attention: inference latency with and without it",
              "Median latency in ms. Paper: CPU = Intel Core i7-10700K; GPU = RTX 3080 / RTX A5000 (no "
              "FlashAttention). Ours: the devices in the notes, PyTorch eager preferred, FlashAttention avoided. "
              "Hardware differs, so compare the speed-up rows (off \u00f7 on) rather than the milliseconds.",
              ["", "", "ours", "paper", "\u0394", "ours", "paper", "ours", "paper", ""],
              groups=[("Model", 1), ("Area attention", 1), ("CPU FP32 (ms)", 3), ("GPU FP32 (ms)", 2),
                      ("GPU FP16 (ms)", 2), ("Ref.", 1)], align="ll" + "r" * 7 + "l", wide=True)
    runs = ctx.results.runs_in_table("3")
    used: dict[tuple[str, str], set[str]] = {}

    def latency_cells(run: Run | None, p: dict[str, str] | None, label: str, scale: str):
        cells = [Cell(scale_label(scale)), Cell(label)]
        ids, ours = [], []
        for dev, prec, cols in T3_COLS:
            row, reason = pick_latency(run, dev, prec, runtime_pref=T3_RUNTIME, backend_avoid=("flash_attn",))
            ms = latency_ms(row)
            ours.append(ms)
            if row is not None:
                threads = f", {row['threads']} threads" if row.get("threads") else ""
                used.setdefault((dev, prec), set()).add(
                    f"{row.get('device_name') or row.get('device')}, {row.get('runtime')}, "
                    f"batch {row.get('batch') or 1}{threads}")
                ids += [i for i in row_refs(ctx.refs, run, kinds=(), latency_rows=[row]) if i not in ids]
            text, pv = _paper_pair(p, cols) if p else ("", [None])
            cells.append(val(ms, 2, NOT_RUN if run is None else reason))
            cells.append(Cell(text) if p else dash(NOT_IN_PAPER))
            if dev == "cpu":
                cells.append(delta(ms, pv[0], 1))
        return cells + [refs_cell(ids)], ours

    scales = [s for s in SCALES if any(p["scale"] == s for p in paper_table("table3_area_attention"))
              or any(r.scale == s for r in runs)]
    for s in scales:
        per = {}
        for area in ("off", "on"):
            pid = f"t3.{s}.{area}"
            p = paper_rows().get(pid)
            run = first([r for r in runs if pid in r.paper])
            cells, ours = latency_cells(run, p, area, s)
            per[area] = (ours, p or {})
            t.add(cells, rule=area == "off")
        cells = [Cell(scale_label(s)), Cell("speed-up", strong=True)]  # off / on, ours and paper
        for k, (dev, _, cols) in enumerate(T3_COLS):
            off, on = per["off"][0][k], per["on"][0][k]
            ours_r = off / on if off and on else None
            p_off, p_on = per["off"][1], per["on"][1]
            paper_r = []
            if p_off and p_on:
                for c in cols:
                    a, b = num(p_off.get(c)), num(p_on.get(c))
                    paper_r.append(a / b if a and b else None)
            cells.append(Cell(ratio_text(ours_r), strong=True) if ours_r else dash())
            cells.append(Cell(" / ".join(ratio_text(r) for r in paper_r if r)) if paper_r else dash())
            if dev == "cpu":
                cells.append(Cell(signed(ours_r - paper_r[0], 2)) if ours_r and paper_r and paper_r[0] else dash())
        cells.append(Cell(""))
        t.add(cells)
        for run in runs:  # other variants of the study (e.g. other area counts): ours only
            if run.scale == s and not any(p.startswith("t3.") for p in run.paper):
                t.add(latency_cells(run, None, run.variant, s)[0])
    for (dev, prec), where in sorted(used.items()):
        t.notes.append(f"Ours, {'GPU' if dev == 'cuda' else 'CPU'} {prec}: " + "; ".join(sorted(where)) + ".")
    return t


# ----------------------------------------------------------------------------------------------------------- table 4
T4_GPUS = (("rtx3080", "RTX 3080"), ("a5000", "RTX A5000"), ("a6000", "RTX A6000"))
T4_RUNTIME = ("tensorrt", "eager", "compile", "cudagraphs", "onnxruntime")


def table4(ctx: Ctx) -> Table:
    runs = [r for r in ctx.results.runs_in_table("4") if r.task == "detect"]
    devices = []  # (device class, device name)
    for run in runs:
        for row in run.latency:
            key = (device_class(row), row.get("device_name", "") or row.get("device", ""))
            if key not in devices and row.get("status", "ok") == "ok":
                devices.append(key)
    for dev in ("cpu", "cuda"):
        if not any(d == dev for d, _ in devices):
            devices.append((dev, ""))  # a column that explains why it is empty
    devices.sort(key=lambda d: (d[0] != "cuda", d[1]))
    ours_cols = [f"{name or ('GPU' if dev == 'cuda' else 'CPU')}" for dev, name in devices]
    matches = [(i, _gpu_key(name)) for i, (dev, name) in enumerate(devices)
               if _gpu_key(name) in ("rtx3080", "a5000", "a6000")]
    cols = ["Model", "Scale", "FLOPs (G)"] + [g for _, g in T4_GPUS] + ours_cols
    cols += [f"\u0394 {devices[i][1]}" for i, _ in matches] + ["Ref."]
    groups = [("", 3), ("paper: FP32 / FP16 (ms)", 3), ("ours: FP32 / FP16 (ms)", len(ours_cols))]
    if matches:
        groups.append(("ours \u2212 paper, same GPU", len(matches)))
    groups.append(("", 1))
    t = Table("table4", "4", "Inference speed across devices (FP32 / FP16)",
              "The paper's Table 4 (three GPUs; YOLOv9/10/11 as measured by the paper) beside YOLOv12 measured here on "
              "every device of this config. Median ms, TensorRT preferred on GPUs, PyTorch eager on CPU.",
              cols, groups=groups, align="llr" + "r" * (3 + len(ours_cols) + len(matches)) + "l", wide=True)
    family_runs = {"YOLOv12": "yolov12"}
    last = None
    for p in paper_table("table4_speed"):
        fam, s = p["family"], p["scale"]
        cells = [Cell(fam), Cell(s.upper()), val(num(p["flops_g"]), 1)]
        for key, _ in T4_GPUS:
            a, b = num(p[f"{key}_fp32_ms"]), num(p[f"{key}_fp16_ms"])
            cells.append(Cell(f"{fmt(a)} / {fmt(b)}"))
        run = first([r for r in runs if f"t4.{fam.lower()}.{s}" in r.paper]) if fam in family_runs else None
        ids, ours = [], {}
        for j, (dev, name) in enumerate(devices):
            if fam not in family_runs:
                cells.append(Cell(""))
                continue
            parts, reasons = [], []
            for prec in ("fp32", "fp16"):
                row, reason = pick_latency(run, dev, prec, runtime_pref=T4_RUNTIME,
                                           device_match=name or None)
                ms = latency_ms(row)
                ours[(j, prec)] = ms
                parts.append(fmt(ms, 2) if ms is not None else "\u2014")
                reasons.append(reason)
                if row is not None:
                    ids += [i for i in row_refs(ctx.refs, run, kinds=(), latency_rows=[row]) if i not in ids]
            if all(p_ == "\u2014" for p_ in parts):
                cells.append(dash(NOT_RUN if run is None else reasons[0] or reasons[1]))
            else:
                cells.append(Cell(" / ".join(parts)))
        for j, key in matches:
            if fam not in family_runs:
                cells.append(Cell(""))
                continue
            d = [ours.get((j, prec)) - num(p[f"{key}_{prec}_ms"]) if ours.get((j, prec)) is not None else None
                 for prec in ("fp32", "fp16")]
            cells.append(Cell(" / ".join(signed(x, 2) if x is not None else "\u2014" for x in d)))
        cells.append(refs_cell(ids))
        t.add(cells, rule=fam != last)
        last = fam
    t.notes.append("Other detectors: the paper's numbers only; this suite measures YOLOv12.")
    t.notes.append("The paper prints 1.5 ms for YOLOv12-M FP16 on the RTX 3080, below its S and L neighbours; kept as "
                   "printed.")
    return t


# ----------------------------------------------------------------------------------------------------------- table 5
T5 = {  # sub-table -> (title, studies listed for orientation)
    "5a": "Attention implementation", "5b": "Hierarchical design", "5c": "Training epochs",
    "5d": "Position perceiver kernel size", "5e": "Position embedding",
    "5f": "Area attention (with FlashAttention in the paper)", "5g": "MLP ratio", "5h": "FlashAttention",
}
T5_RUNTIME = ("eager", "compile", "cudagraphs", "tensorrt", "onnxruntime")
T5_PREFER = {"5h": (("cuda", "fp16"), ("cuda", "fp32"))}  # FlashAttention is CUDA-only: no CPU fallback there
T5_DEFAULT_PREFER = (("cuda", "fp16"), ("cuda", "fp32"), ("cpu", "fp32"))


def table5(ctx: Ctx, sub: str) -> Table:
    t = Table(f"table{sub}", sub, T5[sub],
              "", ["Setting", "Model", "Default", "ours", "paper", "\u0394", "ours", "paper", "ours", "paper", "Ref."],
              groups=[("", 3), ("AP50:95", 3), ("Latency (ms)", 2), ("Latency \u00f7 default", 2), ("", 1)],
              align="lll" + "r" * 7 + "l")
    runs = [r for r in ctx.results.runs_in_table(sub) if r.task == "detect"]
    prefer = T5_PREFER.get(sub, T5_DEFAULT_PREFER)
    setting = choose_setting(runs, prefer=prefer, runtime_pref=T5_RUNTIME)
    paper = [p for p in paper_table("table5_diagnostics") if p["table"] == sub]
    scales = []
    for s in [p["scale"] for p in paper] + [r.scale for r in runs]:
        if s not in scales:
            scales.append(s)

    def lat(run):
        if run is None:
            return None, NOT_RUN, None
        if setting is None:
            _, reason = pick_latency(run, *prefer[-1])
            return None, reason, None
        row, reason = pick_latency(run, setting.device, setting.precision, runtime=setting.runtime)
        return latency_ms(row), reason, row

    done: set[int] = set()
    for s in scales:
        rows_s = [p for p in paper if p["scale"] == s]
        default_p = next((p for p in rows_s if p["default"] == "yes"), None)
        p_default_lat = num(default_p["latency_ms"]) if default_p else None
        s_runs = [r for r in runs if r.scale == s]
        base = next((r for r in s_runs if r.baseline), None)
        if base is None and default_p is not None:
            base = first([r for r in s_runs if default_p["row_id"] in r.paper])
        base_lat = lat(base)[0]
        entries = [(p, [r for r in s_runs if p["row_id"] in r.paper] or [None]) for p in rows_s]
        entries += [(None, [r]) for r in s_runs if not any(pp["row_id"] in r.paper for pp in rows_s)]
        first_row = True
        for p, matched in entries:
            for run in matched:
                if run is not None:
                    if id(run) in done:
                        continue
                    done.add(id(run))
                label = p["setting"] if p else run.variant
                is_default = (p is not None and p["default"] == "yes") or (run is not None and run.baseline)
                cells = [Cell(label), Cell(scale_label(s)), Cell("\u2713" if is_default else "")]
                syn = ctx.syn(run)
                pap = num(p["ap"]) if p else None
                cells += [val(pct(run, "AP"), 1, ctx.acc_missing(run) if run is not None else NOT_TRAINED),
                          val(pap, 1, (NOT_REPORTED if p else NOT_IN_PAPER)), delta(pct(run, "AP"), pap, 1, syn)]
                ms, reason, row = lat(run)
                plat = num(p["latency_ms"]) if p else None
                cells += [val(ms, 2, "" if run is None else reason),
                          val(plat, 2, (NOT_REPORTED if p else NOT_IN_PAPER))]
                rel = ms / base_lat if ms is not None and base_lat else None
                prel = plat / p_default_lat if plat is not None and p_default_lat else None
                cells += [Cell(ratio_text(rel)) if rel is not None else dash(),
                          Cell(ratio_text(prel)) if prel is not None else dash()]
                cells.append(refs_cell(row_refs(ctx.refs, run, latency_rows=[row] if row else [])))
                t.add(cells, rule=first_row)
                first_row = False
    lat_note = (f"ours: median latency on {setting.label}" if setting is not None else
                "ours: no latency measured for this study")
    t.caption = (f"The paper's Table 5({sub[-1]}) beside our runs. AP in %; {lat_note}; paper latency as printed "
                 "(setup of Table 1). The ratio columns divide each row's latency by the default's, which is what "
                 "carries over between different hardware.")
    return t


# ----------------------------------------------------------------------------------------------------------- table 6
def table6(ctx: Ctx) -> Table:
    t = Table("table6", "6", "AP by object size (COCO val2017)",
              "AP for small, medium and large objects in %, ours beside the paper's Table 6.",
              ["", "ours", "paper", "\u0394", "ours", "paper", "\u0394", "ours", "paper", "\u0394", ""],
              groups=[("Model", 1), ("AP small", 3), ("AP medium", 3), ("AP large", 3), ("Ref.", 1)],
              align="l" + "r" * 9 + "l")
    runs = [r for r in ctx.results.runs_in_table("6") if r.task == "detect" and r.family == "yolov12"]
    for s in SCALES:
        p = paper_rows()[f"t6.{s}"]
        for run in [r for r in runs if f"t6.{s}" in r.paper] or [None]:
            cells = [Cell(scale_label(s))]
            for metric, col in (("AP_small", "ap_small"), ("AP_medium", "ap_medium"), ("AP_large", "ap_large")):
                cells += [val(pct(run, metric), 1, ctx.acc_missing(run)), val(num(p[col]), 1, NOT_REPORTED),
                          delta(pct(run, metric), num(p[col]), 1, ctx.syn(run))]
            cells.append(refs_cell(row_refs(ctx.refs, run, kinds=("accuracy",))))
            t.add(cells)
    return t


# ------------------------------------------------------------------------------------------------------ other studies
def other_studies(ctx: Ctx) -> Table | None:
    known = {"1", "2", "3", "4", "5a", "5b", "5c", "5d", "5e", "5f", "5g", "5h", "6"}
    runs = [r for r in ctx.results.runs if r.task == "detect" and not r.paper and table_key(r.study_table) not in known]
    if not runs:
        return None
    setting = choose_setting(runs)
    t = Table("other", "", "Other studies (no paper row)",
              "Detection runs of studies that reproduce no paper row, for completeness. AP in %, "
              + (f"latency on {setting.label}." if setting else "no latency measured."),
              ["Study", "Variant", "Model", "Metric", "FLOPs (G)", "Params (M)", "Latency (ms)", "Ref."],
              align="lll" + "r" * 4 + "l")
    for run in runs:
        metric = "AP"
        row, reason = (pick_latency(run, setting.device, setting.precision, runtime=setting.runtime)
                       if setting else (None, NOT_TIMED))
        value = pct(run, metric)
        t.add([Cell(run.study), Cell(run.variant), Cell(run.label),
               Cell(f"{metric} {fmt(value)}") if value is not None else dash(ctx.acc_missing(run)),
               val(gflops(run), 2, ctx.cx_missing(run)), val(params_m(run), 2, ctx.cx_missing(run)),
               val(latency_ms(row), 2, reason), refs_cell(row_refs(ctx.refs, run, latency_rows=[row] if row else []))])
    return t


TASK_METRICS = {  # task -> (our accuracy.csv column, README column, label)
    "segment": (("AP", "map_box", "box AP50:95"), ("mask_AP", "map_mask", "mask AP50:95")),
    "classify": (("top1", "top1", "top-1"), ("top5", "top5", "top-5")),
    "pose": (("kpt_AP", None, "pose AP50:95"),),
    "obb": (("obb_mAP50_95", None, "OBB mAP50:95"),),
}


def other_tasks(ctx: Ctx) -> Table | None:
    runs = [r for r in ctx.results.runs if r.task != "detect"]
    if not runs:
        return None
    t = Table("tasks", "", "Other tasks beside the official README",
              "Segmentation, classification, pose and OBB runs. The README gives segmentation (COCO, 640 px) and "
              "classification (ImageNet, 224 px) results; pose and OBB have no published YOLOv12 numbers. Metrics in "
              "%; FLOPs at the imgsz of complexity.csv (README: at its own imgsz).",
              ["Model", "Metric", "ours", "README", "\u0394", "ours", "README", "ours", "README", "Ref."],
              groups=[("", 2), ("Accuracy", 3), ("FLOPs (G)", 2), ("Params (M)", 2), ("", 1)],
              align="ll" + "r" * 7 + "l")
    for run in sorted(runs, key=lambda r: (r.task, SCALES.index(r.scale) if r.scale in SCALES else 9)):
        p = next((paper_rows()[pid] for pid in run.paper if pid.startswith("readme.")), None)
        for k, (col, pcol, label) in enumerate(TASK_METRICS.get(run.task, ())):
            ours = pct(run, col)
            theirs = num(p.get(pcol)) if p and pcol else None
            cells = [Cell(run.label if k == 0 else ""), Cell(label), val(ours, 1, ctx.acc_missing(run)),
                     val(theirs, 1, "not in the README" if p is None or pcol is None else NOT_REPORTED),
                     delta(ours, theirs, 1, ctx.syn(run))]
            if k == 0:
                cells += [val(gflops(run), 2, ctx.cx_missing(run)), val(num(p.get("flops_g")) if p else None, 1),
                          val(params_m(run), 2, ctx.cx_missing(run)), val(num(p.get("params_m")) if p else None, 1),
                          refs_cell(row_refs(ctx.refs, run))]
            else:
                cells += [Cell("")] * 5
            t.add(cells, rule=k == 0)
    return t


def provenance_table(ctx: Ctx) -> Table:
    t = Table("provenance", "", "Where every number comes from",
              "Each Ref. id in the tables names the MLflow run and the per-run results file the number was "
              "aggregated from.", ["Ref.", "MLflow run id", "Results file", "Run", "Kinds"], align="lllll")
    for rid, info in ctx.refs.info.items():
        t.add([Cell(rid), Cell(info["mlflow_run_id"] or "\u2014"), Cell(info["results_file"] or "\u2014"),
               Cell(info["what"]), Cell(info["kinds"])])
    return t


def build_tables(results: Results, synthetic: bool) -> list[Table]:
    ctx = Ctx(results, synthetic)
    tables = [table1(ctx), table1_latency(ctx), table2(ctx), table3(ctx), table4(ctx)]
    tables += [table5(ctx, sub) for sub in T5]
    tables.append(table6(ctx))
    for extra in (other_tasks(ctx), other_studies(ctx)):
        if extra is not None:
            tables.append(extra)
    return tables


__all__ = ["Cell", "Ctx", "Setting", "Table", "build_tables", "provenance_table"]
