"""Reading the report's inputs as text: CSV rows as dicts of strings, converted to numbers on use, so that an empty
cell stays "not produced" instead of becoming 0 or NaN."""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
from pathlib import Path


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV file (plain or .gz) as dicts of stripped strings; lines starting with '#' are comments."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as f:
        lines = [line for line in f if not line.lstrip().startswith("#")]
    rows = []
    for row in csv.DictReader(io.StringIO("".join(lines))):
        rows.append({(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()})
    return rows


def csv_columns(path: str | Path) -> list[str]:
    """The header of a CSV file (plain or .gz), comments skipped."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as f:
        for line in f:
            if line.strip() and not line.lstrip().startswith("#"):
                return [c.strip() for c in next(csv.reader([line]))]
    return []


def num(value) -> float | None:
    """A float, or None for empty / unparsable / NaN cells. Infinite values are kept (a diverged loss)."""
    if value is None or isinstance(value, bool):
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


def integer(value) -> int | None:
    x = num(value)
    return None if x is None or not math.isfinite(x) else int(round(x))


def truthy(value) -> bool | None:
    """True / False for the spellings pandas and YAML write; None for anything else (an empty cell)."""
    if isinstance(value, bool):
        return value
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


def table_keys(study_table: str) -> list[str]:
    """Every table a study names: 'Table 3, Table 5f' -> ['3', '5f']."""
    return [k for k in (table_key(part) for part in re.split(r"[,;/&]| and ", str(study_table))) if k]
