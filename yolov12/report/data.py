"""The results of one config as the report sees them: ``results/<config>/`` read into studies and runs.

The contract (docs/report.md, "Inputs"): ``studies.json``, ``config.json`` and the tidy CSVs ``accuracy``,
``deltas``, ``complexity``, ``latency``, ``curves``, ``jobs`` (plus ``latency_runs.csv``, the per-process medians,
read on demand by ``latency_ratios.RunMedians``). Any file or column may be missing: the cells it would have filled
say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..registry import SCALES
from .paper import load_mapping, paper_ids
from .parse import csv_columns, num, read_csv, truthy

CSV_KINDS = ("accuracy", "deltas", "complexity", "latency", "curves", "jobs")
PEERS = "peers"  # the study name of the other detectors timed for "Table 4 on this hardware"


@dataclass
class Variant:
    name: str
    knobs_delta: dict = field(default_factory=dict)
    train_delta: dict = field(default_factory=dict)
    family: str = "yolov12"
    task: str = "detect"
    hierarchy: str = "full"
    note: str = ""


@dataclass
class Study:
    name: str
    table: str = ""
    title: str = ""
    file: str = ""
    tasks: tuple[str, ...] = ("detect",)
    scales: tuple[str, ...] = ()
    baseline: str | None = None
    baselines: dict = field(default_factory=dict)  # per scale, where a study's default differs by scale (Table 2)
    seeds: tuple = (0,)
    variants: list[Variant] = field(default_factory=list)
    declared: bool = True  # False: not in studies.json, reconstructed from the result rows

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    def baseline_at(self, scale: str) -> str | None:
        return self.baselines.get(scale, self.baseline) if self.baselines else self.baseline


@dataclass
class Run:
    """One measured model, (study, variant, family, scale, task), with its rows of every kind (accuracy: per seed)."""

    study: str
    study_table: str
    variant: str
    family: str
    scale: str
    task: str
    baseline: bool = False
    accuracy: list[dict[str, str]] = field(default_factory=list)
    complexity: dict[str, str] | None = None
    latency: list[dict[str, str]] = field(default_factory=list)
    curves: list[dict[str, str]] = field(default_factory=list)
    paper: tuple[str, ...] = ()  # paper row ids this run reproduces (mapping.csv)
    device_reasons: dict[str, str] = field(default_factory=dict)  # why a device class has no latency at all

    @property
    def label(self) -> str:
        if self.study == PEERS:
            return f"{self.family.replace('yolov', 'YOLOv').replace('yolo', 'YOLO')}-{self.scale.upper()}"
        fam = "YOLOv12-turbo" if self.family == "yolov12-turbo" else "YOLOv12"
        task = "" if self.task in ("", "detect") else f" ({self.task})"
        return f"{fam}-{self.scale.upper()}{task}"

    def seeds_converged(self) -> list[dict[str, str]]:
        """Accuracy rows of the seeds that converged (or whose convergence was not recorded)."""
        return [r for r in self.accuracy if truthy(r.get("converged", "")) is not False]

    def acc_values(self, metric: str) -> list[float]:
        """The metric (fraction 0..1) of every converged seed that has it."""
        # a negative value is COCO's -1 "no objects of this size" kept by an older aggregation: a gap, not -100 %
        return [v for v in (num(r.get(metric)) for r in self.seeds_converged()) if v is not None and v >= 0]

    @property
    def converged(self) -> bool | None:
        flags = [truthy(r.get("converged", "")) for r in self.accuracy]
        if not flags or all(f is None for f in flags):
            return None
        return all(f is not False for f in flags)

    @property
    def diverged(self) -> list[tuple[str, int | None]]:
        """(seed, epoch) of every seed that did not converge."""
        out = []
        for r in self.accuracy:
            if truthy(r.get("converged", "")) is False:
                ep = num(r.get("diverged_epoch"))
                out.append((r.get("seed", ""), None if ep is None else int(ep)))
        return out

    @property
    def diverged_epoch(self) -> int | None:
        return next((ep for _, ep in self.diverged if ep is not None), None)

    def distinct(self, column: str) -> list[str]:
        return sorted({r.get(column, "") for r in self.accuracy} - {""})

    @property
    def dataset(self) -> str:
        return ", ".join(self.distinct("dataset"))


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
            seed = f"seed {row['seed']}" if row.get("seed", "") != "" else ""
            what = (row.get("study", ""), row.get("variant", ""), f"{row.get('family', '')}-{row.get('scale', '')}",
                    row.get("task", ""), seed)
            self.info[rid] = {"mlflow_run_id": key[0], "results_file": key[1], "kinds": kind,
                              "what": " ".join(x for x in what if x)}
        else:
            rid = self.ids[key]
            kinds = self.info[rid]["kinds"].split(", ")
            if kind not in kinds:
                self.info[rid]["kinds"] = ", ".join(kinds + [kind])
        return rid

    def run(self, run: Run | None, kinds=("accuracy", "complexity"), latency_rows=()) -> list[str]:
        """The reference ids of a run's rows of ``kinds`` (every seed) and of the given latency rows."""
        if run is None:
            return []
        rows = [("accuracy", r) for r in run.accuracy] if "accuracy" in kinds else []
        rows += [("complexity", run.complexity)] if "complexity" in kinds else []
        rows += [("latency", r) for r in latency_rows if r]
        out = []
        for kind, row in rows:
            rid = self.of(row, kind)
            if rid and rid not in out:
                out.append(rid)
        return out


@dataclass
class Results:
    results_dir: Path
    config_name: str
    frames: dict[str, list[dict[str, str]]]
    columns: dict[str, set[str]]
    studies: list[Study]
    config: dict
    runs: list[Run]
    refs: Refs

    def present(self, kind: str) -> bool:
        return kind in self.columns

    def why_missing(self, kind: str, column: str | None = None) -> str | None:
        """Why a whole kind (or one of its columns) is absent, or None when it is there."""
        if kind not in self.columns:
            return f"no {kind}.csv in the results"
        if column is not None and column not in self.columns[kind]:
            return f"{kind}.csv has no {column} column"
        return None

    def study(self, name: str) -> Study | None:
        return next((s for s in self.studies if s.name == name), None)

    def runs_of(self, study: str) -> list[Run]:
        return [r for r in self.runs if r.study == study]

    def runs_for(self, row_id: str, family: str | None = None) -> list[Run]:
        return [r for r in self.runs if row_id in r.paper and (family is None or r.family == family)]

    def runs_in_table(self, key: str) -> list[Run]:
        """Runs mapped to a row of paper table ``key`` ('1', '2', '5c', ...); README rows extend Table 1."""
        prefixes = (f"t{key}.", "readme.") if key == "1" else (f"t{key}.",)
        return [r for r in self.runs if any(p.startswith(prefixes) for p in r.paper)]

    @property
    def latency_devices(self) -> list[str]:
        seen = []
        for row in self.frames["latency"]:
            name = row.get("device_name") or row.get("device", "")
            if row.get("status") == "ok" and name and name not in seen:
                seen.append(name)
        return seen


def scale_order(scale: str) -> int:
    return SCALES.index(scale) if scale in SCALES else len(SCALES)


def _load_json(path: Path, what: str):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read {what}: {e}", file=path, allowed="a JSON file written by the aggregation") \
            from e


def parse_studies(raw, path: Path) -> list[Study]:
    if not isinstance(raw, list):
        raise UserError("must hold a list of studies", file=path, key="(top level)", allowed="[{study, variants, ...}]")
    out = []
    for i, s in enumerate(raw):
        if not isinstance(s, dict) or not s.get("study"):
            raise UserError(f"entry {i} is not a study", file=path, key=f"[{i}].study", allowed="a non-empty name")
        variants = []
        for j, v in enumerate(s.get("variants") or []):
            if not isinstance(v, dict) or not v.get("variant"):
                raise UserError(f"variant {j} has no name", file=path, key=f"{s['study']}.variants[{j}].variant",
                                allowed="a non-empty name")
            variants.append(Variant(str(v["variant"]), dict(v.get("knobs_delta") or {}),
                                    dict(v.get("train_delta") or {}), v.get("family") or "yolov12",
                                    v.get("task") or s.get("task") or "detect", v.get("hierarchy") or "full",
                                    v.get("note") or ""))
        tasks = tuple(s.get("tasks") or ([s["task"]] if s.get("task") else sorted({v.task for v in variants})))
        out.append(Study(str(s["study"]), s.get("table") or "", s.get("title") or "", s.get("file") or "",
                         tasks or ("detect",), tuple(s.get("scales") or ()), s.get("baseline"),
                         dict(s.get("baselines") or {}), tuple(s.get("seeds") or (0,)), variants))
    return out


def _sort_key(row: dict[str, str]):
    return (scale_order(row.get("scale", "")), row.get("family", ""), row.get("variant", ""), row.get("task", ""),
            num(row.get("seed")) or 0)


def load_results(results_dir: str | Path, config_name: str | None = None,
                 mapping: str | Path | None = None) -> Results:
    """Read ``results_dir`` (any file may be missing) into studies and runs."""
    results_dir = Path(results_dir)
    frames: dict[str, list[dict[str, str]]] = {}
    columns: dict[str, set[str]] = {}
    for kind in CSV_KINDS:
        path = results_dir / f"{kind}.csv"
        frames[kind] = read_csv(path) if path.is_file() else []
        if path.is_file():
            columns[kind] = set(csv_columns(path))
    studies_path, config_path = results_dir / "studies.json", results_dir / "config.json"
    studies = parse_studies(_load_json(studies_path, "studies.json"), studies_path) if studies_path.is_file() else []
    config = _load_json(config_path, "config.json") if config_path.is_file() else {}
    if not isinstance(config, dict):
        raise UserError("must hold a mapping", file=config_path, key="(top level)", allowed="{name, train, ...}")
    if config_name is None:
        names = {row.get("config", "") for rows in frames.values() for row in rows} - {""}
        config_name = config.get("name") or (names.pop() if len(names) == 1 else results_dir.name)

    rules = load_mapping(mapping)
    by_name = {s.name: s for s in studies}
    runs: dict[tuple, Run] = {}

    def run_of(row: dict[str, str]) -> Run:
        study = row.get("study", "")
        key = (study, row.get("variant", ""), row.get("family", "") or "yolov12", row.get("scale", ""),
               row.get("task", "") or "detect")
        if key not in runs:
            s = by_name.get(study)
            table = s.table if s and s.table else row.get("study_table", "")
            declared = s.baseline_at(key[3]) if s else None
            baseline = declared == key[1] if declared is not None else bool(truthy(row.get("baseline")))
            run = Run(study, table, key[1], key[2], key[3], key[4], baseline=baseline)
            run.paper = paper_ids(rules, study, table, key[1], key[2], key[4], key[3])
            runs[key] = run
        return runs[key]

    for kind in ("accuracy", "complexity", "latency"):
        for row in sorted(frames[kind], key=_sort_key):
            run = run_of(row)
            if kind == "accuracy":
                run.accuracy.append(row)
            elif kind == "latency":
                run.latency.append(row)
            elif run.complexity is None:
                run.complexity = row
    for row in frames["curves"]:
        run_of(row).curves.append(row)

    studies = studies + _undeclared(studies, runs.values())
    order = {s.name: i for i, s in enumerate(studies)}

    def run_key(r: Run):
        s = by_name.get(r.study)
        vnames = [v.name for v in s.variants] if s else []
        return (order.get(r.study, len(order)), scale_order(r.scale),
                vnames.index(r.variant) if r.variant in vnames else len(vnames), r.variant, r.family, r.task)

    ordered = sorted(runs.values(), key=run_key)
    _device_reasons(frames["latency"], ordered)
    refs = Refs()  # numbered run by run, so the ids of one run are adjacent
    for run in ordered:
        refs.run(run, latency_rows=run.latency)
    return Results(results_dir, config_name, frames, columns, studies, config, ordered, refs)


def _undeclared(studies: list[Study], runs) -> list[Study]:
    """Studies that have result rows but no studies.json entry (or no studies.json at all), from the rows."""
    known = {s.name for s in studies}
    extra: dict[str, Study] = {}
    for run in runs:
        if run.study in known:
            continue
        s = extra.setdefault(run.study, Study(run.study, run.study_table, declared=False, tasks=()))
        if s.variant(run.variant) is None:
            s.variants.append(Variant(run.variant, family=run.family, task=run.task))
        if run.task not in s.tasks:
            s.tasks += (run.task,)
        if run.scale not in s.scales:
            s.scales += (run.scale,)
        if run.baseline:
            s.baseline = run.variant
    return list(extra.values())


def _device_reasons(latency_rows: list[dict[str, str]], runs: list[Run]) -> None:
    """Why a device class has no usable cell at all in this config (e.g. 'no CUDA device'), for every run."""
    from .timing import device_class

    ok = {device_class(r) for r in latency_rows if r.get("status", "ok") == "ok"}
    reasons: dict[str, str] = {}
    for row in latency_rows:
        if row.get("status") in ("unavailable", "failed") and row.get("reason") and device_class(row) not in ok:
            reasons.setdefault(device_class(row), row["reason"])
    for run in runs:
        run.device_reasons = reasons
