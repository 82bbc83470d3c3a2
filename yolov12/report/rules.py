"""The rules of claims.yaml: each turns our measurements (with their intervals) and the paper's numbers into an
``Outcome`` through ``verdicts.decide``; a timing verdict is inconclusive when it would rest on a contended cell, a
cell whose interval is within one run (not between processes), or a cell whose interval is wider than the effect
judged; an ordering of two variants on one seed is inconclusive when it is within the baseline seeds' spread."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..stats import IMAGE_ONLY
from .accuracy_deltas import nd_apart
from .cells import Ctx, gflops, params_m, run_delta
from .data import Results, Run
from .latency_ratios import between_processes, n_processes, ratio
from .paper import HERE, paper_value
from .timing import Setting, contention, interval, latency_ms, pick, rel_width, size_text
from .verdicts import (INCONCLUSIVE, NOT_MEASURED, NOT_REPRODUCED, REPRODUCED, SYNTHETIC_REASON, Claims, NotMeasured,
                       Outcome, Verdict, combine, decide, load_claims)

ANY_PREFER = (("cuda", "fp16"), ("cuda", "fp32"), ("cpu", "fp32"))
INF = math.inf


def _t975(df: int) -> float:
    from scipy.stats import t  # scipy comes with Ultralytics; only the verdicts need it

    return float(t.ppf(0.975, df))


@dataclass
class Estimate:
    value: float
    lo: float
    hi: float
    how: str
    interval: str = ""
    spread: float | None = None  # the baseline seeds' spread (points) when the interval is image-only


class Judge:
    def __init__(self, ctx: Ctx, claims: Claims):
        self.ctx, self.results, self.margins, self.size = ctx, ctx.results, claims.margins, claims.latency_imgsz

    # ------------------------------------------------------------------------------------------ paper values
    def paper_values(self, claim: dict, values: dict) -> None:
        rule = claim["rule"]
        kind = rule.get("type")

        def put(key, row, col, nd=None):
            v = paper_value(row, col)
            values.setdefault(key, "?" if v is None else (f"{v:.{nd}f}" if nd is not None else f"{v:g}"))
            return v

        if kind == "match":
            for check in rule["checks"]:
                put(f"paper_{check.get('name', check['metric'])}", check["row"], check["paper_column"],
                    2 if check["metric"] == "latency" else 1)
        elif kind == "ratio":
            slow = put("paper_slow", rule["slow"], rule["paper_column"])
            fast = put("paper_fast", rule["fast"], rule["paper_column"])
            values.setdefault("paper_ratio", f"\u00d7{slow / fast:.2f}" if slow and fast else "?")
        elif kind == "less":
            put("paper_a_flops", rule["a"], rule.get("paper_column", "flops_g"), 1)
            put("paper_b_flops", rule["b"], rule.get("paper_column", "flops_g"), 1)
        elif kind == "not_worse":
            put("paper_a", rule["a"], rule.get("paper_column", "ap"), 1)
            put("paper_b", rule["b"], rule.get("paper_column", "ap"), 1)

    # ---------------------------------------------------------------------------------------- measurements
    def run(self, row: str, family: str) -> Run:
        runs = self.results.runs_for(row, family)
        if not runs:
            raise NotMeasured(f"not run in this config (no run reproduces paper row {row})")
        return runs[0]

    def seeds_pct(self, run: Run, metric: str) -> list[float]:
        if self.ctx.syn(run):
            raise NotMeasured(SYNTHETIC_REASON)
        refs = self.ctx.refs.run(run, kinds=("accuracy",))
        values = [100.0 * v for v in run.acc_values(metric)]
        if not values:
            raise NotMeasured(f"{run.label} {run.variant}: {self.ctx.acc_missing(run, metric)}", refs)
        return values

    def accuracy(self, run: Run, metric: str) -> Estimate:
        """Mean over seeds with the t interval of the mean (n >= 2), or the single seed's point."""
        values = self.seeds_pct(run, metric)
        n, mean = len(values), sum(values) / len(values)
        if n == 1:
            return Estimate(mean, mean, mean, "one seed: no interval, judged on the point")
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        half = _t975(n - 1) * sd / math.sqrt(n)
        return Estimate(mean, mean - half, mean + half, f"95 % t interval of the mean over {n} seeds")

    def difference(self, a: Run, b: Run, metric: str) -> Estimate:
        """a − b in points: deltas.csv's seed-mean delta when one is the other's baseline, else Welch over seeds."""
        for run, other, sign in ((a, b, 1), (b, a, -1)):
            if other.baseline and other.study == run.study:
                d = run_delta(self.ctx, run, metric)
                if d is not None and d.lo is not None:
                    lo, hi = (100 * d.lo, 100 * d.hi) if sign > 0 else (-100 * d.hi, -100 * d.lo)
                    how = (f"{d.label} 95 % interval of the seed means ({d.seeds} vs {d.baseline_seeds} seeds, "
                           f"{d.n_images} images, deltas.csv)")
                    return Estimate(sign * 100 * d.delta, lo, hi, how, d.interval,
                                    None if d.spread is None else 100 * d.spread)
        va, vb = self.seeds_pct(a, metric), self.seeds_pct(b, metric)
        ma, mb = sum(va) / len(va), sum(vb) / len(vb)
        if len(va) < 2 or len(vb) < 2:
            return Estimate(ma - mb, ma - mb, ma - mb, "no paired delta and a single seed: judged on the point")
        sa = sum((v - ma) ** 2 for v in va) / (len(va) - 1) / len(va)
        sb = sum((v - mb) ** 2 for v in vb) / (len(vb) - 1) / len(vb)
        se = math.sqrt(sa + sb)
        df = max(1, int((sa + sb) ** 2 / (sa ** 2 / (len(va) - 1) + sb ** 2 / (len(vb) - 1)))) if se else 1
        half = _t975(df) * se
        return Estimate(ma - mb, ma - mb - half, ma - mb + half, "Welch 95 % interval over seeds (no paired delta)")

    def gate(self, rows: list[dict], effect: float, what: str) -> Outcome | None:
        """Inconclusive when a timing cell is contended, has no interval or only a within-run one, or its interval is
        wider than the effect."""
        for row in rows:
            reason = contention(row)
            if reason:
                return Outcome(INCONCLUSIVE, f"{what} rests on a contended timing cell ({reason})")
            width = rel_width(row)
            if width is None:
                return Outcome(INCONCLUSIVE, f"{what}: a timing cell has no interval, so noise and effect cannot be "
                                             "told apart")
            if not between_processes(row):
                return Outcome(INCONCLUSIVE, f"{what}: the timing cell was measured in {n_processes(row) or 1} "
                                             "process, so its interval is within-run and leaves out run-to-run noise")
            if width > effect:
                return Outcome(INCONCLUSIVE, f"{what}: a timing interval spans {100 * width:.1f} % of its median, "
                                             f"wider than the {100 * effect:.1f} % effect judged")
        return None


# ---------------------------------------------------------------------------------------------------------- rules
def rule_match(j: Judge, claim: dict, values: dict) -> Outcome:
    rule, outcomes = claim["rule"], []
    family = rule.get("family", "yolov12")
    for check in rule["checks"]:
        metric, paper = check["metric"], paper_value(check["row"], check["paper_column"])
        run = j.run(check["row"], family)
        if metric in ("gflops", "params"):
            ours = gflops(run) if metric == "gflops" else params_m(run)
            if ours is None:
                raise NotMeasured(j.ctx.cx_missing(run))
            tol = float(check.get("tol", j.margins["complexity"]["abs"]))
            status, why = decide(ours, ours, paper - tol, paper + tol, f"our {metric}", 3)
            outcomes.append(Outcome(status, why, f"{metric}: ours {ours:.3f} vs paper {paper:g} (margin \u00b1{tol:g})",
                                    j.ctx.refs.run(run, kinds=("complexity",))))
        elif metric == "latency":
            row, reason = pick(run, check.get("device"), check.get("precision"), check.get("runtime"), size=j.size,
                               device_match=check.get("device_match"))
            if row is None:
                raise NotMeasured(reason)
            tol = float(check.get("rel_tol", j.margins["latency"]["rel"]))
            refs = j.ctx.refs.run(run, kinds=(), latency_rows=[row])
            evidence = (f"ours {latency_ms(row):.2f} ms on {Setting.of(row).label} vs paper {paper:g} ms "
                        f"(margin \u00b1{100 * tol:g} %)")
            gated = j.gate([row], tol, "the latency check")
            if gated:
                outcomes.append(Outcome(gated.status, gated.reason, evidence, refs))
                continue
            lo, hi = interval(row)
            status, why = decide(lo, hi, paper * (1 - tol), paper * (1 + tol), "our median's interval", 2)
            outcomes.append(Outcome(status, why, evidence, refs))
        else:
            est = j.accuracy(run, metric)
            tol = float(check.get("tol", j.margins["accuracy"]["abs"]))
            status, why = decide(est.lo, est.hi, paper - tol, paper + tol, f"our {metric}", 1)
            outcomes.append(Outcome(status, f"{why} ({est.how})", f"{metric}: ours {est.value:.1f} vs paper "
                                    f"{paper:g} (margin \u00b1{tol:g})", j.ctx.refs.run(run, kinds=("accuracy",))))
    return combine(outcomes)


def rule_ratio(j: Judge, claim: dict, values: dict) -> Outcome:
    rule = claim["rule"]
    family = rule.get("family", "yolov12")
    p_slow, p_fast = paper_value(rule["slow"], rule["paper_column"]), paper_value(rule["fast"], rule["paper_column"])
    p_ratio = p_slow / p_fast
    slow_run, fast_run = j.run(rule["slow"], family), j.run(rule["fast"], family)
    avoid = bool(rule.get("avoid_flash"))
    combos = ANY_PREFER if rule.get("device", "any") == "any" else ((rule["device"], rule.get("precision", "fp32")),)
    reasons = []
    for dev, prec in combos:
        slow, why = pick(slow_run, dev, prec, size=j.size, avoid_flash=avoid)
        if slow is None:
            reasons.append(why)
            continue
        fast, why = pick(fast_run, setting=Setting.of(slow), avoid_flash=avoid)
        if fast is not None:
            break
        reasons.append(f"{fast_run.variant}: {why}")
    else:
        raise NotMeasured(reasons[-1] if rule.get("device", "any") == "any" else reasons[0])
    setting = Setting.of(slow)
    r = ratio(slow, fast, j.ctx.runs)
    margin = j.margins["speedup"]
    threshold = (float(rule["min_ratio"]) if "min_ratio" in rule else
                 max(float(margin["fraction_of_paper"]) * p_ratio, float(margin["floor"])))
    refs = j.ctx.refs.run(slow_run, kinds=(), latency_rows=[slow]) + j.ctx.refs.run(fast_run, kinds=(),
                                                                                    latency_rows=[fast])
    ours = (f"{r.text}" if r.ok else f"\u00d7{latency_ms(slow) / latency_ms(fast):.2f} of the medians, no interval "
            f"({r.reason})")
    evidence = (f"ours {latency_ms(slow):.2f} \u2192 {latency_ms(fast):.2f} ms, ratio {ours} on {setting.label}; "
                f"paper {p_slow:g} \u2192 {p_fast:g} ms = \u00d7{p_ratio:.2f}; accepted: ours \u2265 "
                f"\u00d7{threshold:.2f}")
    kernels = (slow.get("kernel") or None, fast.get("kernel") or None)
    if rule.get("same_kernel") and kernels[0] != kernels[1]:  # e.g. Table 3: area off vs on, one kernel for both
        return Outcome(INCONCLUSIVE, f"the two cells ran different attention kernels ({kernels[0]} vs "
                                     f"{kernels[1]}): the ratio would mix the kernel with the area split",
                       evidence, refs)
    if not r.ok:
        return Outcome(INCONCLUSIVE, f"the speed-up {r.reason}" if r.reason.startswith("rests on") else
                       f"no interval for our ratio: {r.reason}", evidence, refs)
    status, why = decide(r.lo, r.hi, threshold, INF, f"our ratio at {size_text(setting.size)}", 2)
    return Outcome(status, why, evidence, refs)


def rule_less(j: Judge, claim: dict, values: dict) -> Outcome:
    rule = claim["rule"]
    family = rule.get("family", "yolov12")
    a_run, b_run = j.run(rule["a"], family), j.run(rule["b"], family)
    parts, ok = [], True
    for metric in rule["metrics"]:
        a, b = (gflops(r) if metric == "gflops" else params_m(r) for r in (a_run, b_run))
        if a is None or b is None:
            raise NotMeasured(j.ctx.cx_missing(a_run if a is None else b_run))
        ok &= a < b
        parts.append(f"{metric}: ours {a:.2f} vs {b:.2f} {'G' if metric == 'gflops' else 'M'}")
    refs = j.ctx.refs.run(a_run, kinds=("complexity",)) + j.ctx.refs.run(b_run, kinds=("complexity",))
    reason = ("exact counts (no interval): a is smaller on every metric" if ok else
              "exact counts (no interval): a is not smaller on every metric")
    return Outcome(REPRODUCED if ok else NOT_REPRODUCED, reason, "; ".join(parts), refs)


def rule_not_worse(j: Judge, claim: dict, values: dict) -> Outcome:
    rule = claim["rule"]
    family = rule.get("family", "yolov12")
    a_run, b_run = j.run(rule["a"], family), j.run(rule["b"], family)
    metric, tol = rule.get("metric", "AP"), float(rule.get("tol", 0.0))
    est = j.difference(a_run, b_run, metric)
    pa, pb = paper_value(rule["a"], rule.get("paper_column", "ap")), paper_value(rule["b"], rule.get("paper_column",
                                                                                                         "ap"))
    what = f"our {a_run.variant} \u2212 {b_run.variant}"
    nd = nd_apart([(est.value, -tol), (est.lo, -tol), (est.hi, -tol)]
                  + ([(abs(est.value + tol), est.spread)] if est.spread is not None else []),
                  2 if est.interval == IMAGE_ONLY else 1)
    evidence = (f"ours {a_run.variant} \u2212 {b_run.variant} = {est.value:+.{nd}f} {metric} points; paper {pa:g} vs "
                f"{pb:g} ({pa - pb:+.1f}); accepted: \u2265 {-tol + 0.0:g}")
    refs = list(dict.fromkeys(j.ctx.refs.run(a_run, kinds=("accuracy",)) + j.ctx.refs.run(b_run, kinds=("accuracy",))))
    if est.interval == IMAGE_ONLY:  # one seed on a side: the interval holds no seed noise, the baselines' spread does
        if est.spread is None:
            return Outcome(INCONCLUSIVE, f"{what} rests on one seed and the seed noise was not measured (the "
                                         f"baseline has one seed) ({est.how})", evidence, refs)
        if abs(est.value + tol) <= est.spread:
            return Outcome(INCONCLUSIVE, f"{what} = {est.value:+.{nd}f} is {abs(est.value + tol):.{nd}f} points from "
                                         f"the accepted bound {-tol + 0.0:g}, within the baseline seeds' spread "
                                         f"{est.spread:.{nd}f}: one seed cannot order them ({est.how})", evidence,
                           refs)
    status, why = decide(est.lo, est.hi, -tol, INF, what, nd)
    return Outcome(status, f"{why} ({est.how})", evidence, refs)


def rule_converged(j: Judge, claim: dict, values: dict) -> Outcome:
    rule = claim["rule"]
    family = rule.get("family", "yolov12")
    parts, refs, missing, wrong, mixed = [], [], [], [], []
    for row, expected in rule["expect"].items():
        run = next(iter(j.results.runs_for(row, family)), None)
        if run is None or run.converged is None:
            missing.append(row)
            continue
        if j.ctx.syn(run):
            raise NotMeasured(SYNTHETIC_REASON)
        refs += j.ctx.refs.run(run, kinds=("accuracy",))
        n, bad = len(run.accuracy), len(run.diverged)
        eps = ", ".join(f"epoch {ep}" for _, ep in run.diverged if ep is not None)
        got = f"{n - bad} of {n} seeds converged" + (f" (diverged at {eps})" if eps else "")
        parts.append(f"{run.variant}: {got}; paper: {'converged' if expected else 'did not converge'}")
        if 0 < bad < n:
            mixed.append(run.variant)
        elif (bad == 0) != bool(expected):
            wrong.append(run.variant)
    if missing:
        raise NotMeasured(f"not trained in this config: {', '.join(m.split('.', 2)[-1] for m in missing)}", refs)
    refs = list(dict.fromkeys(refs))
    if wrong:
        return Outcome(NOT_REPRODUCED, f"{', '.join(wrong)} behaved unlike the paper on every seed", "; ".join(parts),
                       refs)
    if mixed:
        return Outcome(INCONCLUSIVE, f"seeds disagree for {', '.join(mixed)}", "; ".join(parts), refs)
    return Outcome(REPRODUCED, "every seed of every design converged or diverged as the paper reports",
                   "; ".join(parts), refs)


RULES = {"match": rule_match, "ratio": rule_ratio, "less": rule_less, "not_worse": rule_not_worse,
         "converged": rule_converged}


class _Keep(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def judge(results: Results, synthetic: bool, claims_path: str | Path | None = None) -> list[Verdict]:
    claims = load_claims(claims_path)
    j = Judge(Ctx(results, synthetic), claims)
    out = []
    for claim in claims.items:
        rule = claim["rule"]
        if rule.get("type") not in RULES:
            raise UserError(f"unknown rule {rule.get('type')!r}", file=claims_path or HERE / "claims.yaml",
                            key=f"{claim['id']}.rule.type", allowed=list(RULES))
        values: dict[str, str] = {}
        try:
            if claim["kind"] in ("accuracy", "convergence") and synthetic:
                raise NotMeasured(SYNTHETIC_REASON)
            outcome = RULES[rule["type"]](j, claim, values)
        except NotMeasured as e:
            outcome = Outcome(NOT_MEASURED, e.reason, "", e.refs)
        finally:
            j.paper_values(claim, values)  # the claim text shows the paper's numbers whatever happened
        text = claim["claim"].format_map(_Keep(values))
        out.append(Verdict(claim["id"], claim.get("table", ""), text, claim["kind"], outcome.status, outcome.reason,
                           outcome.evidence, outcome.refs))
    return out
