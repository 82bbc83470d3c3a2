"""Reproduction verdicts: each paper claim of ``claims.yaml`` judged on this config's results by its rule.

A verdict is "reproduced", "not reproduced" or "not measured" (with the reason: not run in this config, no CUDA
device, synthetic data, ...), always with the numbers that decided it.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .data import HERE, NOT_TIMED, Results, Run, choose_setting, latency_ms, num, paper_value, pick_latency, row_refs
from .tables import NOT_COMPUTED, NOT_RUN, NOT_TRAINED, fmt, gflops, is_synthetic, params_m, signed

REPRODUCED, NOT_REPRODUCED, NOT_MEASURED = "reproduced", "not reproduced", "not measured"
SYNTHETIC_REASON = "synthetic data"


@dataclass
class Verdict:
    id: str
    table: str
    claim: str
    status: str
    evidence: str
    reason: str = ""
    refs: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.status} ({self.reason})" if self.status == NOT_MEASURED and self.reason else self.status


class NotMeasured(Exception):
    def __init__(self, reason: str, refs=()):
        super().__init__(reason)
        self.reason = reason
        self.refs = list(refs)


def load_claims(path: str | Path | None = None) -> list[dict]:
    """Claims with ``for_each`` expanded."""
    raw = yaml.safe_load(Path(path or HERE / "claims.yaml").read_text())
    out = []
    for claim in raw:
        loops = claim.get("for_each") or {}
        keys = list(loops)
        for values in itertools.product(*(loops[k] for k in keys)) if keys else [()]:
            subst = {}
            for k, v in zip(keys, values):
                subst["{" + k + "}"] = str(v)
                subst["{" + k.upper() + "}"] = str(v).upper()
            out.append(_substitute(copy.deepcopy({k: v for k, v in claim.items() if k != "for_each"}), subst))
    return out


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


# ------------------------------------------------------------------------------------------------ our measurements
class Judge:
    def __init__(self, results: Results, synthetic: bool):
        self.results = results
        self.synthetic = synthetic

    def run(self, row: str, family: str, missing: str) -> Run:
        runs = self.results.runs_for(row, family)
        if not runs:
            raise NotMeasured(missing)
        return runs[0]

    def accuracy(self, row: str, metric: str, family: str) -> tuple[float, list[str]]:
        if self.synthetic:
            raise NotMeasured(SYNTHETIC_REASON)
        run = self.run(row, family, NOT_TRAINED)
        if run.accuracy is None:
            raise NotMeasured(NOT_TRAINED)
        if is_synthetic(self.results, run, False):
            raise NotMeasured(SYNTHETIC_REASON)
        refs = row_refs(self.results.refs, run, kinds=("accuracy",))
        if run.converged is False:
            raise NotMeasured(f"{run.label} {run.variant} did not converge", refs)
        v = run.acc(metric)
        if v is None:
            raise NotMeasured(f"{metric} not evaluated", refs)
        return 100.0 * v, refs

    def complexity(self, row: str, metric: str, family: str) -> tuple[float, list[str]]:
        run = self.run(row, family, NOT_COMPUTED)
        v = gflops(run) if metric == "gflops" else params_m(run)
        if v is None:
            raise NotMeasured(NOT_COMPUTED)
        return v, row_refs(self.results.refs, run, kinds=("complexity",))

    def latency(self, row: str, family: str, device: str, precision: str, runtime: str | None = None,
                device_match: str | None = None, avoid=()) -> tuple[float, list[str], str]:
        run = self.run(row, family, NOT_RUN)
        r, reason = pick_latency(run, device, precision, runtime=runtime, device_match=device_match,
                                 backend_avoid=avoid)
        if r is None:
            if device_match and (" not measured" in reason or reason == NOT_TIMED):
                reason = f"no {device_match} {runtime or ''} {precision} measurement".replace("  ", " ")
            raise NotMeasured(reason)
        setting = f"{r.get('device_name') or r.get('device')} {r.get('precision')} {r.get('runtime')}"
        return latency_ms(r), row_refs(self.results.refs, run, kinds=(), latency_rows=[r]), setting

    def value(self, check: dict, family: str):
        metric = check["metric"]
        if metric in ("gflops", "params"):
            v, refs = self.complexity(check["row"], metric, family)
            return v, refs, ""
        if metric == "latency":
            return self.latency(check["row"], family, check.get("device", "cuda"), check.get("precision", "fp16"),
                                check.get("runtime"), check.get("device_match"))
        v, refs = self.accuracy(check["row"], metric, family)
        return v, refs, ""


def _nd(metric: str) -> int:
    return 2 if metric in ("gflops", "params", "latency") else 1


# ------------------------------------------------------------------------------------------------------------ rules
def rule_match(j: Judge, rule: dict, values: dict) -> tuple[bool, str, list[str]]:
    family = rule.get("family", "yolov12")
    parts, refs, ok = [], [], True
    for check in rule["checks"]:
        name = check.get("name", check["metric"])
        paper = paper_value(check["row"], check["paper_column"])
        values[f"paper_{name}"] = fmt(paper, 2 if check["metric"] == "latency" else 1)
    for check in rule["checks"]:
        name = check.get("name", check["metric"])
        paper = paper_value(check["row"], check["paper_column"])
        ours, r, setting = j.value(check, family)
        refs += [x for x in r if x not in refs]
        tol = check["tol"] if "tol" in check else check["rel_tol"] * paper
        good = abs(ours - paper) <= tol + 1e-9
        ok &= good
        nd = _nd(check["metric"])
        pnd = 2 if check["metric"] == "latency" else 1  # paper numbers as printed
        parts.append(f"{check['metric']}: ours {fmt(ours, nd)} vs paper {fmt(paper, pnd)} "
                     f"(\u0394 {signed(ours - paper, nd)}; rule |\u0394| \u2264 {tol:.{nd}g})"
                     + (f" on {setting}" if setting else ""))
    return ok, "; ".join(parts), refs


def rule_ratio(j: Judge, rule: dict, values: dict) -> tuple[bool, str, list[str]]:
    family = rule.get("family", "yolov12")
    col = rule["paper_column"]
    p_slow, p_fast = paper_value(rule["slow"], col), paper_value(rule["fast"], col)
    p_ratio = p_slow / p_fast if p_slow and p_fast else None
    values.update(paper_slow=fmt(p_slow, 2 if p_slow and p_slow < 10 else 1),
                  paper_fast=fmt(p_fast, 2 if p_fast and p_fast < 10 else 1),
                  paper_ratio=f"\u00d7{p_ratio:.2f}" if p_ratio else "?")
    slow_run = j.run(rule["slow"], family, NOT_RUN)
    fast_run = j.run(rule["fast"], family, NOT_RUN)
    avoid = tuple([rule["avoid_backend"]] if rule.get("avoid_backend") else [])
    device = rule.get("device", "any")
    if device == "any":
        setting = choose_setting([slow_run, fast_run])
        if setting is None:
            _, reason = pick_latency(slow_run, "cpu", "fp32")
            raise NotMeasured(reason)
        device, precision, runtime = setting.device, setting.precision, setting.runtime
    else:
        precision = rule.get("precision", "fp32")
        setting = choose_setting([slow_run, fast_run], prefer=((device, precision),))
        runtime = setting.runtime if setting else None
    slow, r1, where = j.latency(rule["slow"], family, device, precision, runtime, avoid=avoid)
    fast, r2, _ = j.latency(rule["fast"], family, device, precision, runtime, avoid=avoid)
    ratio = slow / fast
    if "min_ratio" in rule:
        threshold = float(rule["min_ratio"])
    else:  # a fraction of the paper's speed-up, but always a real speed-up
        threshold = max(float(rule["min_fraction_of_paper"]) * p_ratio, float(rule.get("min_ratio_floor", 1.05)))
    evidence = (f"ours {fmt(slow, 2)} \u2192 {fmt(fast, 2)} ms = \u00d7{ratio:.2f} on {where}; paper "
                f"{values['paper_slow']} \u2192 {values['paper_fast']} ms = {values['paper_ratio']}; "
                f"rule: ours \u2265 \u00d7{threshold:.2f}")
    return ratio >= threshold, evidence, r1 + [x for x in r2 if x not in r1]


def rule_less(j: Judge, rule: dict, values: dict) -> tuple[bool, str, list[str]]:
    family = rule.get("family", "yolov12")
    col = rule.get("paper_column", "flops_g")
    values.update(paper_a_flops=fmt(paper_value(rule["a"], col)), paper_b_flops=fmt(paper_value(rule["b"], col)))
    parts, refs, ok = [], [], True
    for metric in rule["metrics"]:
        a, ra = j.complexity(rule["a"], metric, family)
        b, rb = j.complexity(rule["b"], metric, family)
        refs += [x for x in ra + rb if x not in refs]
        ok &= a < b
        unit = "G" if metric == "gflops" else "M"
        parts.append(f"{metric}: ours {fmt(a, 2)} vs {fmt(b, 2)} {unit}")
    pa, pb = paper_value(rule["a"], "flops_g"), paper_value(rule["b"], "flops_g")
    parts.append(f"paper FLOPs {fmt(pa)} vs {fmt(pb)} G; rule: ours(a) < ours(b)")
    return ok, "; ".join(parts), refs


def rule_not_worse(j: Judge, rule: dict, values: dict) -> tuple[bool, str, list[str]]:
    family = rule.get("family", "yolov12")
    col = rule.get("paper_column", "ap")
    pa, pb = paper_value(rule["a"], col), paper_value(rule["b"], col)
    values.update(paper_a=fmt(pa), paper_b=fmt(pb))
    a, ra = j.accuracy(rule["a"], rule.get("metric", "AP"), family)
    b, rb = j.accuracy(rule["b"], rule.get("metric", "AP"), family)
    tol = float(rule.get("tol", 0.0))
    evidence = (f"ours {fmt(a)} vs {fmt(b)} AP (\u0394 {signed(a - b, 1)}); paper {fmt(pa)} vs {fmt(pb)}; "
                f"rule: \u0394 \u2265 \u2212{tol:g}")
    return a >= b - tol - 1e-9, evidence, ra + [x for x in rb if x not in ra]


def rule_converged(j: Judge, rule: dict, values: dict) -> tuple[bool, str, list[str]]:
    family = rule.get("family", "yolov12")
    if j.synthetic:
        raise NotMeasured(SYNTHETIC_REASON)
    parts, refs, ok, missing = [], [], True, []
    for row, expected in rule["expect"].items():
        runs = j.results.runs_for(row, family)
        run = runs[0] if runs else None
        if run is None or run.converged is None:
            missing.append(row)
            continue
        if is_synthetic(j.results, run, False):
            raise NotMeasured(SYNTHETIC_REASON)
        refs += [x for x in row_refs(j.results.refs, run, kinds=("accuracy",)) if x not in refs]
        got = run.converged
        ok &= got == bool(expected)
        ep = f" (diverged at epoch {run.diverged_epoch})" if got is False and run.diverged_epoch is not None else ""
        parts.append(f"{run.variant}: {'converged' if got else 'did not converge'}{ep}, paper: "
                     f"{'converged' if expected else 'did not converge'}")
    if missing:
        names = ", ".join(m.split(".", 2)[-1] for m in missing)
        raise NotMeasured(f"{names} {NOT_TRAINED}" if len(missing) < len(rule["expect"]) else NOT_TRAINED, refs)
    return ok, "; ".join(parts), refs


RULES = {"match": rule_match, "ratio": rule_ratio, "less": rule_less, "not_worse": rule_not_worse,
         "converged": rule_converged}


class _Keep(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def judge(results: Results, synthetic: bool, claims_path: str | Path | None = None) -> list[Verdict]:
    j = Judge(results, synthetic)
    out = []
    for claim in load_claims(claims_path):
        rule = claim["rule"]
        values: dict[str, str] = {}
        try:
            if claim.get("kind") == "accuracy" and synthetic:
                # the paper numbers for the claim text, without judging
                try:
                    RULES[rule["type"]](Judge(results, True), rule, values)
                except NotMeasured:
                    pass
                raise NotMeasured(SYNTHETIC_REASON)
            ok, evidence, refs = RULES[rule["type"]](j, rule, values)
            status, reason = (REPRODUCED if ok else NOT_REPRODUCED), ""
        except NotMeasured as e:
            status, evidence, reason, refs = NOT_MEASURED, "", e.reason, e.refs
        text = claim["claim"].format_map(_Keep(values))
        out.append(Verdict(claim["id"], claim.get("table", ""), text, status, evidence, reason, refs))
    return out


def summary(verdicts: list[Verdict]) -> dict[str, int]:
    counts = {REPRODUCED: 0, NOT_REPRODUCED: 0, NOT_MEASURED: 0}
    for v in verdicts:
        counts[v.status] += 1
    return counts


__all__ = ["Verdict", "judge", "load_claims", "summary", "num"]
