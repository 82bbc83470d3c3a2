"""Latency comparisons as the report prints and judges them: a ratio of two cells (off ÷ on, variant ÷ default, peer
÷ YOLOv12) from the per-process medians of ``latency_runs.csv`` of ONE timing session (``yolov12.stats.
paired_ratio_ci``: processes, not iterations, are the independent units), and ours − paper from a cell's
between-process interval. Never from a contended cell, never between sessions, never from a within-run interval:
each of those is a gap with its reason (docs/statistics.md, "Latency comparisons")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..stats import paired_ratio_ci
from .parse import integer, num, read_csv, truthy
from .timing import contention, interval, latency_ms

WITHIN_RUN = ("the cell was timed in one process only (a latency.csv from before the timing sessions): its "
              "interval is within-run and leaves out run-to-run noise, so no comparison is printed")
NO_RUNS = "no latency_runs.csv in the results (per-process medians): no paired interval"


def n_processes(row: dict[str, str] | None) -> int | None:
    return None if row is None else integer(row.get("n_processes"))


def between_processes(row: dict[str, str] | None) -> bool:
    """True when the cell's interval comes from the spread between at least 2 processes."""
    return (n_processes(row) or 0) >= 2 and bool(row.get("session")) and interval(row) is not None


@dataclass
class Comparison:
    value: float | None
    lo: float | None = None
    hi: float | None = None
    n: int = 0
    reason: str = ""  # why there is no value or no interval
    kind: str = "ratio"  # ratio | difference

    @property
    def ok(self) -> bool:
        return self.value is not None and self.lo is not None

    @property
    def text(self) -> str:
        if self.kind == "difference":
            return f"{_signed(self.value)} [{_signed(self.lo)}, {_signed(self.hi)}]"
        return f"\u00d7{self.value:.2f} [{self.lo:.2f}, {self.hi:.2f}] ({self.n} paired runs, uncontended)"


def _signed(x: float, nd: int = 2) -> str:
    text = f"{x:+.{nd}f}"
    return (f"{0:.{nd}f}" if float(text) == 0 else text).replace("-", "\u2212")


def gap(reason: str, kind: str = "ratio") -> Comparison:
    return Comparison(None, reason=reason, kind=kind)


class RunMedians:
    """latency_runs.csv, read on first use: per (session, cell_id), the median of each process and its flag."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._by_cell: dict[tuple[str, str], dict[int, tuple[float, bool]]] | None = None

    @property
    def present(self) -> bool:
        return self.path.is_file()

    def of(self, row: dict[str, str]) -> dict[int, tuple[float, bool]]:
        if self._by_cell is None:
            self._by_cell = {}
            for r in read_csv(self.path) if self.present else []:
                ms, proc = num(r.get("median_ms")), integer(r.get("process"))
                if ms is not None and proc is not None:
                    self._by_cell.setdefault((r.get("session", ""), r.get("cell_id", "")), {})[proc] = (
                        ms, bool(truthy(r.get("contended", ""))))
        return self._by_cell.get((row.get("session", ""), row.get("cell_id", "")), {})


def _usable(row: dict[str, str] | None, what: str) -> str | None:
    """Why a cell cannot enter a comparison, or None."""
    if row is None:
        return f"{what} not timed"
    if not row.get("cell_id") or not row.get("session") or n_processes(row) is None:
        return WITHIN_RUN
    reason = contention(row)
    if reason:
        return f"rests on a contended timing cell ({reason})"
    return None


def ratio(a: dict[str, str] | None, b: dict[str, str] | None, runs: RunMedians) -> Comparison:
    """latency(a) / latency(b) with a 95 % interval from the processes that timed both cells in one session."""
    for row, what in ((a, "the first cell"), (b, "the second cell")):
        why = _usable(row, what)
        if why:
            return gap(why)
    if a["session"] != b["session"]:
        return gap(f"the two cells were timed in different sessions ({a['session']}, {b['session']}): their "
                   "processes are not paired")
    if not runs.present:
        return gap(NO_RUNS)
    ma, mb = runs.of(a), runs.of(b)
    both = sorted(set(ma) & set(mb))
    busy = [p for p in both if ma[p][1] or mb[p][1]]
    if busy:
        return gap(f"rests on a contended timing cell (process {', '.join(map(str, busy))} flagged contended)")
    value, lo, hi, n = paired_ratio_ci([ma[p][0] for p in both], [mb[p][0] for p in both])
    if n < 2:
        return gap(f"{n} process{'es' if n != 1 else ''} timed both cells: a paired interval needs 2")
    return Comparison(value, lo, hi, n)


def vs_paper(row: dict[str, str] | None, paper_ms: float | None) -> Comparison:
    """ours − paper in ms, the interval being our cell's between-process interval shifted by the paper's value (the
    paper prints no interval)."""
    if paper_ms is None:
        return gap("not in the paper", "difference")
    why = _usable(row, "our cell")
    if why:
        return gap(why, "difference")
    if not between_processes(row):
        return gap(f"our cell has no between-process interval ({n_processes(row)} process)", "difference")
    lo, hi = interval(row)
    ms = latency_ms(row)
    return Comparison(ms - paper_ms, lo - paper_ms, hi - paper_ms, n_processes(row), kind="difference")
