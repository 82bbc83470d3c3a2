"""Inputs of the report: the aggregated result CSVs (docs/results-schema.md), the paper's numbers shipped in
``paper/``, and the data files that tie the two together (``mapping.csv``, ``claims.yaml``, ``reference_logs.csv``).

Everything is read as text and converted on use, so an empty cell stays "not produced" rather than becoming 0 or NaN.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAPER_DIR = HERE / "paper"
KINDS = ("accuracy", "complexity", "latency", "curves")
IDENTITY = ("config", "study", "study_table", "variant", "variant_dir", "baseline", "family", "scale", "task",
            "mlflow_run_id", "results_file")
SCALES = ("n", "s", "m", "l", "x")
ACCURACY_METRICS = {"AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR1", "AR10", "AR100", "mask_AP",
                    "mask_AP50", "kpt_AP", "kpt_AP50", "top1", "top5", "obb_mAP50", "obb_mAP50_95", "ultra_mAP50",
                    "ultra_mAP50_95", "converged"}


# ----------------------------------------------------------------------------------------------------------- parsing
def read_csv(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts of stripped strings; lines starting with '#' are comments."""
    with open(path, newline="") as f:
        lines = [line for line in f if not line.lstrip().startswith("#")]
    rows = []
    for row in csv.DictReader(lines):
        rows.append({(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()})
    return rows


def num(value) -> float | None:
    """A finite float, or None for empty / unparsable / NaN cells. Infinite values are kept (a diverged loss)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    text = str(value).strip()
    if not text:
        return None
    try:
        x = float(text)
    except ValueError:
        return None
    return None if math.isnan(x) else x


def truthy(value) -> bool | None:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "t", "1.0"):
        return True
    if text in ("false", "0", "no", "n", "f", "0.0"):
        return False
    return None


def norm_variant(value) -> str:
    """Variant key used for matching: numbers compare by value ('2', '2.0' and '2.00' are the same variant)."""
    text = str(value).strip()
    try:
        return format(float(text), "g")
    except ValueError:
        return text.lower()


def table_key(study_table: str) -> str:
    """'Table 5(c)', 'Table 5c', 'table5c', '5c' -> '5c'; 'Table 2' -> '2'; '' -> ''."""
    m = re.search(r"(\d+)\s*\(?\s*([a-h]?)\s*\)?", str(study_table).lower())
    return f"{m.group(1)}{m.group(2)}" if m else ""


# ------------------------------------------------------------------------------------------------------ paper tables
@cache
def paper_table(name: str) -> tuple[dict[str, str], ...]:
    return tuple(read_csv(PAPER_DIR / f"{name}.csv"))


@cache
def paper_rows() -> dict[str, dict[str, str]]:
    """Every paper / README row by its ``row_id`` (t1.*, t2.*, t3.*, t4.*, t5?.*, t6.*, readme.*)."""
    out: dict[str, dict[str, str]] = {}
    for name in ("table1_coco", "table2_relan", "table3_area_attention", "table4_speed", "table5_diagnostics",
                 "table6_ap_by_size", "readme_results"):
        for row in paper_table(name):
            if row["row_id"] in out:
                raise ValueError(f"paper/{name}.csv: duplicate row_id {row['row_id']}")
            out[row["row_id"]] = row
    return out


def paper_value(row_id: str, column: str) -> float | None:
    row = paper_rows().get(row_id)
    return None if row is None else num(row.get(column))


# ----------------------------------------------------------------------------------------------------------- mapping
@dataclass(frozen=True)
class MapRule:
    study: str
    study_table: str
    variant: str
    family: str
    task: str
    scale: str
    rows: tuple[str, ...]

    def matches(self, run: "Run") -> bool:
        def ok(pattern, value, key=str.lower):
            return pattern == "*" or key(pattern) == key(value)

        return (ok(self.study, run.study) and ok(self.study_table, run.study_table, table_key)
                and ok(self.variant, run.variant, norm_variant) and ok(self.family, run.family)
                and ok(self.task, run.task) and ok(self.scale, run.scale))


def load_mapping(path: str | Path | None = None) -> list[MapRule]:
    rules = []
    for row in read_csv(path or HERE / "mapping.csv"):
        rules.append(MapRule(row["study"] or "*", row["study_table"] or "*", row["variant"] or "*",
                             row["family"] or "*", row["task"] or "*", row["scale"] or "*",
                             tuple(r.strip() for r in row["paper_rows"].split(";") if r.strip())))
    return rules


# -------------------------------------------------------------------------------------------------------------- runs
@dataclass
class Run:
    """One measured model: a (study, variant, family, scale, task) with the rows of each result kind."""

    study: str
    study_table: str
    variant: str
    family: str
    scale: str
    task: str
    baseline: bool = False
    accuracy: dict[str, str] | None = None
    complexity: dict[str, str] | None = None
    latency: list[dict[str, str]] = field(default_factory=list)
    curves: list[dict[str, str]] = field(default_factory=list)
    paper: tuple[str, ...] = ()  # paper row ids this run reproduces
    device_reasons: dict[str, str] = field(default_factory=dict)  # why a device class has no latency in the config

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.study, self.variant, self.family, self.scale, self.task)

    @property
    def label(self) -> str:
        fam = "YOLOv12-turbo" if self.family == "yolov12-turbo" else "YOLOv12"
        task = "" if self.task in ("", "detect") else f" ({self.task})"
        return f"{fam}-{self.scale.upper()}{task}"

    def acc(self, metric: str) -> float | None:
        return None if self.accuracy is None else num(self.accuracy.get(metric))

    @property
    def converged(self) -> bool | None:
        return None if self.accuracy is None else truthy(self.accuracy.get("converged", ""))

    @property
    def diverged_epoch(self) -> int | None:
        v = None if self.accuracy is None else num(self.accuracy.get("diverged_epoch"))
        return None if v is None else int(v)

    @property
    def dataset(self) -> str:
        return "" if self.accuracy is None else self.accuracy.get("dataset", "")


class Refs:
    """Numbered references (R1, R2, ...) to the (MLflow run id, results file) every reported number comes from."""

    def __init__(self):
        self.ids: dict[tuple[str, str], str] = {}
        self.info: dict[str, dict[str, str]] = {}

    def of(self, row: dict[str, str] | None, kind: str) -> str | None:
        if not row:
            return None
        key = (row.get("mlflow_run_id", ""), row.get("results_file", ""))
        if key == ("", ""):
            return None
        if key not in self.ids:
            rid = f"R{len(self.ids) + 1}"
            self.ids[key] = rid
            self.info[rid] = {"mlflow_run_id": key[0], "results_file": key[1], "kinds": kind,
                              "what": " ".join(x for x in (row.get("study", ""), row.get("variant", ""),
                                                           f"{row.get('family', '')}-{row.get('scale', '')}",
                                                           row.get("task", "")) if x)}
        else:
            rid = self.ids[key]
            kinds = self.info[rid]["kinds"].split(", ")
            if kind not in kinds:
                self.info[rid]["kinds"] = ", ".join(kinds + [kind])
        return rid


@dataclass
class Results:
    results_dir: Path
    config_name: str
    frames: dict[str, list[dict[str, str]]]
    present: dict[str, bool]
    runs: list[Run]
    refs: Refs

    def runs_for(self, row_id: str, family: str | None = None) -> list[Run]:
        return [r for r in self.runs if row_id in r.paper and (family is None or r.family == family)]

    def runs_in_table(self, key: str) -> list[Run]:
        """Runs of paper table ``key`` ('1', '2', '5c', ...): mapped to one of its rows or naming it in study_table."""
        prefixes = (f"t{key}.", "readme.") if key == "1" else (f"t{key}.",)  # README rows extend Table 1
        out = []
        for r in self.runs:
            if any(p.startswith(prefixes) for p in r.paper) or table_key(r.study_table) == key:
                out.append(r)
        return out

    @property
    def latency_devices(self) -> list[str]:
        seen = []
        for row in self.frames["latency"]:
            name = row.get("device_name") or row.get("device", "")
            if row.get("status") == "ok" and name and name not in seen:
                seen.append(name)
        return seen


def _sort_key(row: dict[str, str]):
    scale = row.get("scale", "")
    return (row.get("study", ""), SCALES.index(scale) if scale in SCALES else 9, row.get("family", ""),
            row.get("variant", ""), row.get("task", ""))


def load_results(results_dir: str | Path, config_name: str | None = None,
                 mapping: str | Path | None = None) -> Results:
    """Read ``results_dir/{accuracy,complexity,latency,curves}.csv`` (any may be missing) into runs."""
    results_dir = Path(results_dir)
    frames: dict[str, list[dict[str, str]]] = {}
    present: dict[str, bool] = {}
    for kind in KINDS:
        path = results_dir / f"{kind}.csv"
        present[kind] = path.is_file()
        frames[kind] = read_csv(path) if present[kind] else []
    if config_name is None:
        names = {row.get("config", "") for rows in frames.values() for row in rows} - {""}
        config_name = names.pop() if len(names) == 1 else results_dir.name
    rules = load_mapping(mapping)
    runs: dict[tuple, Run] = {}

    def run_of(row: dict[str, str]) -> Run:
        key = (row.get("study", ""), row.get("variant", ""), row.get("family", "") or "yolov12",
               row.get("scale", ""), row.get("task", "") or "detect")
        if key not in runs:
            run = Run(study=key[0], study_table=row.get("study_table", ""), variant=key[1], family=key[2],
                      scale=key[3], task=key[4], baseline=bool(truthy(row.get("baseline", ""))))
            ids: list[str] = []
            for rule in rules:
                if rule.matches(run):
                    for rid in rule.rows:
                        rid = rid.replace("{scale}", run.scale)
                        if rid in paper_rows() and rid not in ids:
                            ids.append(rid)
            run.paper = tuple(ids)
            runs[key] = run
        run = runs[key]
        run.baseline = run.baseline or bool(truthy(row.get("baseline", "")))
        run.study_table = run.study_table or row.get("study_table", "")
        return run

    for kind in ("accuracy", "complexity", "latency"):
        for row in sorted(frames[kind], key=_sort_key):
            run = run_of(row)
            if kind == "latency":
                run.latency.append(row)
            elif getattr(run, kind) is None:
                setattr(run, kind, row)
    for row in frames["curves"]:
        run_of(row).curves.append(row)
    ordered = sorted(runs.values(), key=lambda r: _sort_key({"study": r.study, "scale": r.scale, "family": r.family,
                                                             "variant": r.variant, "task": r.task}))
    device_reasons: dict[str, str] = {}  # only for device classes with no usable measurement at all
    ok_devices = {device_class(r) for r in frames["latency"] if r.get("status", "ok") == "ok"}
    for row in frames["latency"]:
        if row.get("status") in ("unavailable", "failed") and row.get("reason") and device_class(row) not in ok_devices:
            device_reasons.setdefault(device_class(row), row["reason"])
    refs = Refs()  # numbered run by run, so the ids of one run are adjacent
    for run in ordered:
        run.device_reasons = device_reasons
        refs.of(run.accuracy, "accuracy")
        refs.of(run.complexity, "complexity")
        for row in run.latency:
            refs.of(row, "latency")
    return Results(results_dir, config_name, frames, present, ordered, refs)


def row_refs(refs: Refs, run: Run | None, kinds=("accuracy", "complexity"), latency_rows=()) -> list[str]:
    if run is None:
        return []
    out = []
    for kind in kinds:
        rid = refs.of(getattr(run, kind), kind)
        if rid and rid not in out:
            out.append(rid)
    for row in latency_rows:
        rid = refs.of(row, "latency")
        if rid and rid not in out:
            out.append(rid)
    return out


# ------------------------------------------------------------------------------------------------------ latency pick
DEVICE_CLASSES = ("cpu", "cuda")
NOT_TIMED = "not timed in this config"
RUNTIME_ORDER = ("eager", "compile", "cudagraphs", "onnxruntime", "tensorrt")


def device_class(row: dict[str, str]) -> str:
    return "cuda" if str(row.get("device", "")).startswith("cuda") else "cpu"


def device_name(row: dict[str, str]) -> str:
    """The device's name, or the device string (cuda:0) when the row has none (e.g. status unavailable)."""
    return row.get("device_name", "") or row.get("device", "")


def latency_ms(row: dict[str, str] | None) -> float | None:
    if row is None:
        return None
    value = num(row.get("median_ms"))
    return value if value is not None else num(row.get("mean_ms"))


@dataclass(frozen=True)
class Setting:
    """A latency setting: device class, precision, runtime (and the device name it ran on, for labels)."""

    device: str
    precision: str
    runtime: str
    device_name: str = ""

    @property
    def label(self) -> str:
        dev = self.device_name or self.device
        return f"{dev} {self.precision} {self.runtime}"

    @property
    def short(self) -> str:
        return f"{'GPU' if self.device == 'cuda' else 'CPU'} {self.precision} {self.runtime}"


def _pref(row, runtime_pref, backend_avoid=()):
    rt = row.get("runtime", "")
    if rt in runtime_pref:
        rank = runtime_pref.index(rt)
    elif rt in RUNTIME_ORDER:
        rank = len(runtime_pref) + RUNTIME_ORDER.index(rt)
    else:
        rank = 99
    return (0 if row.get("scope", "forward") in ("forward", "") else 1,
            0 if num(row.get("batch")) in (None, 1.0) else 1,
            1 if row.get("attn_backend", "") in backend_avoid else 0, rank)


def pick_latency(run: Run | None, device: str, precision: str, runtime_pref=RUNTIME_ORDER, runtime: str | None = None,
                 backend_avoid=(), device_match: str | None = None) -> tuple[dict | None, str]:
    """The preferred ``status: ok`` latency row of ``run`` for a device class and precision, or (None, reason)."""
    if run is None:
        return None, "not run in this config"
    rows = [r for r in run.latency if device_class(r) == device and r.get("precision", "") == precision
            and (runtime is None or r.get("runtime", "") == runtime)
            and (device_match is None or device_match.lower() in device_name(r).lower())]
    ok = [r for r in rows if r.get("status", "ok") == "ok" and latency_ms(r) is not None]
    if ok:
        return sorted(ok, key=lambda r: _pref(r, runtime_pref, backend_avoid))[0], ""
    for status in ("unavailable", "failed"):
        bad = [r for r in rows if r.get("status") == status]
        if bad:
            reason = bad[0].get("reason") or status
            return None, reason if status == "unavailable" else f"failed: {reason}"
    if not rows and run.device_reasons.get(device) and not device_match:
        return None, run.device_reasons[device]
    if not run.latency:
        return None, NOT_TIMED
    what = f"{'GPU' if device == 'cuda' else 'CPU'} {precision}" + (f" {runtime}" if runtime else "")
    return None, f"{what} not measured" + (f" on {device_match}" if device_match else "")


def choose_setting(runs: list[Run], prefer=(("cuda", "fp16"), ("cuda", "fp32"), ("cpu", "fp32")),
                   runtime_pref=RUNTIME_ORDER) -> Setting | None:
    """The latency setting available (status ok) for most of ``runs``; ties go to the earlier preference."""
    best, best_count = None, 0
    combos = []
    for dev, prec in prefer:
        runtimes = sorted({r.get("runtime", "") for run in runs for r in run.latency
                           if device_class(r) == dev and r.get("precision") == prec and r.get("status", "ok") == "ok"},
                          key=lambda rt: runtime_pref.index(rt) if rt in runtime_pref else 99)
        combos += [(dev, prec, rt) for rt in runtimes]
    for dev, prec, rt in combos:
        count = sum(pick_latency(run, dev, prec, runtime=rt)[0] is not None for run in runs)
        if count > best_count:
            names = [pick_latency(run, dev, prec, runtime=rt)[0] for run in runs]
            name = next((n.get("device_name", "") for n in names if n), "")
            best, best_count = Setting(dev, prec, rt, name), count
    return best


# ------------------------------------------------------------------------------------------------ reference logs
def reference_log_for(directory: str | Path | None, family: str, task: str, scale: str) -> Path | None:
    """The reference training log (Ultralytics results.csv columns) for a run, by the names in reference_logs.csv."""
    if not directory:
        return None
    directory = Path(directory)
    for row in read_csv(HERE / "reference_logs.csv"):
        if row["family"] == family and row["task"] == task:
            path = directory / row["file"].replace("{scale}", scale)
            if path.is_file():
                return path
    return None


def read_log(path: str | Path) -> list[dict[str, str]]:
    return read_csv(path)
