"""Verdicts that know noise: each paper claim of ``claims.yaml`` judged on this config's results by its rule.

A verdict is reproduced / not reproduced / inconclusive / not measured, always with the reason and the numbers the
rule saw (claims.yaml explains the decision; the rules are in ``rules.py``)."""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..yamlio import load_yaml
from .accuracy_deltas import nd_apart
from .model import Cell, Table
from .paper import HERE

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_MEASURED = "reproduced", "not reproduced", "inconclusive", "not measured"
STATUSES = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_MEASURED)
TONE = {REPRODUCED: "good", NOT_REPRODUCED: "bad", INCONCLUSIVE: "unsure", NOT_MEASURED: "none"}  # model.TONES
KINDS = ("complexity", "accuracy", "latency", "speedup", "convergence")
SYNTHETIC_REASON = "synthetic data at a tiny budget checks the pipeline, not the paper"
HOW_DECIDED = ("Each claim is data (yolov12/report/claims.yaml): a rule and the margin of a meaningful miss for its "
               "kind. Our estimate carries its interval (t interval over seeds; the seed-mean delta of deltas.csv, "
               "over seeds and images, or image-only with one seed; a timing cell's interval between processes; the "
               "paired ratio of per-process medians of one session). Reproduced: the whole interval lies in the "
               "accepted region; not reproduced: it lies wholly outside; inconclusive: it reaches both, or the "
               "verdict would rest on a contended timing cell, on a within-run timing interval, on one whose interval "
               "is wider than the effect judged, or on a one-seed ordering within the baseline seeds' spread; not "
               "measured: no comparable measurement (the reason says which). Latency claims are judged only on cells "
               "at the paper's image size.")


@dataclass
class Verdict:
    id: str
    table: str
    claim: str
    kind: str
    status: str
    reason: str
    evidence: str = ""
    refs: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.status} ({self.reason})" if self.status == NOT_MEASURED and self.reason else self.status


class NotMeasured(Exception):
    def __init__(self, reason: str, refs=()):
        super().__init__(reason)
        self.reason = reason
        self.refs = list(refs)


@dataclass
class Outcome:
    status: str
    reason: str
    evidence: str = ""
    refs: list[str] = field(default_factory=list)


def interval_text(lo: float, hi: float, nd: int) -> str:
    return f"{lo:.{nd}f}" if lo == hi else f"[{lo:.{nd}f}, {hi:.{nd}f}]"


def decide(lo: float, hi: float, accept_lo: float, accept_hi: float, what: str, nd: int = 2) -> tuple[str, str]:
    """Three-way decision of an interval [lo, hi] (a point when lo == hi) against the accepted region, printed with
    enough decimals that the printed numbers order as the exact ones do (0.998 is not shown as 1.00 against 1.00)."""
    a, b = accept_lo + 0.0, accept_hi + 0.0  # + 0.0: no "-0.0"
    nd = nd_apart([(x, y) for x in (lo, hi) for y in (a, b) if math.isfinite(y)], nd)
    region = (f"\u2265 {a:.{nd}f}" if math.isinf(b) else f"\u2264 {b:.{nd}f}" if math.isinf(a) else
              f"[{a:.{nd}f}, {b:.{nd}f}]")
    ours = f"{what} {interval_text(lo + 0.0, hi + 0.0, nd)}"
    if accept_lo <= lo and hi <= accept_hi:
        return REPRODUCED, f"{ours} lies within the accepted {region}"
    if hi < accept_lo or lo > accept_hi:
        return NOT_REPRODUCED, f"{ours} lies entirely outside the accepted {region}"
    return INCONCLUSIVE, f"{ours} reaches both the accepted {region} and a meaningful miss"


def combine(outcomes: list[Outcome]) -> Outcome:
    """Several checks of one claim: any miss decides; else any inconclusive; else reproduced."""
    for status in (NOT_MEASURED, NOT_REPRODUCED, INCONCLUSIVE, REPRODUCED):
        hit = [o for o in outcomes if o.status == status]
        if hit:
            refs = list(dict.fromkeys(r for o in outcomes for r in o.refs))
            return Outcome(status, "; ".join(o.reason for o in hit), "; ".join(o.evidence for o in outcomes if
                                                                                o.evidence), refs)
    return Outcome(NOT_MEASURED, "no checks")


# ------------------------------------------------------------------------------------------------------ claims
@dataclass
class Claims:
    margins: dict
    latency_imgsz: tuple[int, int]
    items: list[dict]


def load_claims(path: str | Path | None = None) -> Claims:
    """The claims file with ``for_each`` expanded; a malformed file is refused naming the key."""
    path = Path(path or HERE / "claims.yaml")
    raw = load_yaml(path, "claims file")
    if not isinstance(raw, dict) or not isinstance(raw.get("claims"), list):
        raise UserError("must be a mapping with a 'claims' list", file=path, key="claims",
                        allowed="margins: {...}, latency_imgsz: [h, w], claims: [...]")
    margins = raw.get("margins") or {}
    for kind in ("complexity", "accuracy", "latency", "speedup"):
        if kind not in margins:
            raise UserError("margin missing", file=path, key=f"margins.{kind}", allowed="one margin per claim kind")
    size = raw.get("latency_imgsz") or [640, 640]
    items = []
    for i, claim in enumerate(raw["claims"]):
        for key in ("id", "claim", "kind", "rule"):
            if key not in claim:
                raise UserError("key missing", file=path, key=f"claims[{i}].{key}", allowed="id, table, kind, claim, "
                                "rule")
        if claim["kind"] not in KINDS:
            raise UserError(f"unknown kind {claim['kind']!r}", file=path, key=f"claims[{i}].kind", allowed=KINDS)
        loops = claim.get("for_each") or {}
        keys = list(loops)
        for values in itertools.product(*(loops[k] for k in keys)) if keys else [()]:
            subst = {}
            for k, v in zip(keys, values):
                subst["{" + k + "}"] = str(v)
                subst["{" + k.upper() + "}"] = str(v).upper()
            items.append(_substitute(copy.deepcopy({k: v for k, v in claim.items() if k != "for_each"}), subst))
    return Claims(margins, (int(size[0]), int(size[1])), items)


def _substitute(obj, subst):
    if isinstance(obj, str):
        for k, v in subst.items():
            obj = obj.replace(k, v)
        return obj
    if isinstance(obj, list):
        return [_substitute(x, subst) for x in obj]
    if isinstance(obj, dict):
        return {_substitute(k, subst): _substitute(v, subst) for k, v in obj.items()}
    return obj


def summary(verdicts: list[Verdict]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for v in verdicts:
        counts[v.status] += 1
    return counts


def summary_text(verdicts: list[Verdict]) -> str:
    return ", ".join(f"{n} {status}" for status, n in summary(verdicts).items())


__all__ = ["HOW_DECIDED", "INCONCLUSIVE", "NOT_MEASURED", "NOT_REPRODUCED", "REPRODUCED", "STATUSES", "Verdict",
           "decide", "load_claims", "summary", "summary_text"]


def verdict_table(verdicts: list[Verdict]) -> Table:
    """The verdicts as one table, whatever renders it (report.md, report.typ, tables/verdicts.tex)."""
    t = Table("verdicts", "V", "Reproduction verdicts", "Each paper claim, its verdict, why, and the numbers the rule "
              "saw (claims.yaml).", ["Claim", "Table", "Verdict", "Why", "Evidence", "Ref."], align="llllll",
              wide=True, widths=("2.2fr", "0.5fr", "0.9fr", "2.3fr", "2.6fr", "0.45fr"))
    for v in verdicts:
        t.add([Cell(v.claim), Cell(v.table), Cell(v.status, strong=True, tone=TONE[v.status]),
               Cell(v.reason or "\u2014"), Cell(v.evidence or "\u2014"), Cell(", ".join(v.refs))])
    return t
