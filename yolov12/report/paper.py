"""The paper's numbers shipped in ``paper/`` and the data that ties measured rows to them (``mapping.csv``), plus
the names of the reference training logs (``reference_logs.csv``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import UserError
from .parse import norm_variant, num, read_csv, table_key, table_keys

HERE = Path(__file__).resolve().parent
PAPER_DIR = HERE / "paper"
PAPER_FILES = ("table1_coco", "table2_relan", "table3_area_attention", "table4_speed", "table5_diagnostics",
               "table6_ap_by_size", "table7_recipe", "readme_results")


@cache
def paper_table(name: str) -> tuple[dict[str, str], ...]:
    return tuple(read_csv(PAPER_DIR / f"{name}.csv"))


@cache
def paper_rows() -> dict[str, dict[str, str]]:
    """Every paper / README row by its ``row_id`` (t1.*, t2.*, ..., t7.*, readme.*)."""
    out: dict[str, dict[str, str]] = {}
    for name in PAPER_FILES:
        for row in paper_table(name):
            if row["row_id"] in out:
                raise UserError(f"duplicate row_id {row['row_id']}", file=PAPER_DIR / f"{name}.csv", key="row_id",
                                allowed="each row_id once")
            out[row["row_id"]] = row
    return out


def paper_value(row_id: str, column: str) -> float | None:
    row = paper_rows().get(row_id)
    return None if row is None else num(row.get(column))


def peer_row_family(family: str) -> str:
    """Our family name of a peer (as Ultralytics spells it: yolo11) -> the paper's row-id spelling (yolov11)."""
    fam = family.strip().lower()
    return "yolov" + fam[4:] if fam.startswith("yolo") and fam[4:5].isdigit() else fam


@dataclass(frozen=True)
class MapRule:
    study: str
    study_table: str
    variant: str
    family: str
    task: str
    scale: str
    rows: tuple[str, ...]

    def matches(self, study, study_table, variant, family, task, scale) -> bool:
        def ok(pattern, value, key=str.lower):
            return pattern == "*" or key(pattern) == key(value)

        return (ok(self.study, study) and (self.study_table == "*" or table_key(self.study_table) in
                                           table_keys(study_table))
                and ok(self.variant, variant, norm_variant) and ok(self.family, family) and ok(self.task, task)
                and ok(self.scale, scale))


MAPPING_COLUMNS = ("study", "study_table", "variant", "family", "task", "scale", "paper_rows")


def load_mapping(path: str | Path | None = None) -> list[MapRule]:
    path = Path(path or HERE / "mapping.csv")
    rules = []
    for i, row in enumerate(read_csv(path), 1):
        missing = [c for c in MAPPING_COLUMNS if c not in row]
        if missing:
            raise UserError(f"row {i} lacks column {missing[0]}", file=path, key=missing[0], allowed=MAPPING_COLUMNS)
        rules.append(MapRule(row["study"] or "*", row["study_table"] or "*", row["variant"] or "*",
                             row["family"] or "*", row["task"] or "*", row["scale"] or "*",
                             tuple(r.strip() for r in row["paper_rows"].split(";") if r.strip())))
    return rules


def paper_ids(rules: list[MapRule], study, study_table, variant, family, task, scale) -> tuple[str, ...]:
    """The paper row ids a measured row reproduces ('{scale}' and '{family}' filled in; unknown ids dropped)."""
    ids: list[str] = []
    for rule in rules:
        if rule.matches(study, study_table, variant, family, task, scale):
            for rid in rule.rows:
                rid = rid.replace("{scale}", scale).replace("{family}", peer_row_family(family))
                if rid in paper_rows() and rid not in ids:
                    ids.append(rid)
    return tuple(ids)


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
