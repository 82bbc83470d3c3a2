"""Accuracy deltas as the report prints and judges them: one row of deltas.csv per (study, variant, scale, metric),
the variant's seed mean minus the baseline's seed mean with its interval (seeds + images, or image-only with one
seed), and what may be bold: the interval excludes 0, the delta survives Holm's correction over its study's
comparisons, and it is larger than the spread of the baseline's seeds (docs/statistics.md, "Accuracy deltas")."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..stats import IMAGE_ONLY, SEEDS_AND_IMAGES, holm
from .parse import integer, num

CORRECTION = "Holm"
OLD_FORMAT = ("per-seed deltas (an aggregation from before seed-mean deltas): re-run the aggregation for a delta of "
              "seed means")


def nd_apart(pairs, nd: int = 1, most: int = 4) -> int:
    """The fewest decimals (>= nd) at which every pair (x, y) of different values still prints different, so that a
    printed interval, spread or threshold never reads as contradicting the decision taken on the exact values."""
    for digits in range(nd, nd + most + 1):
        if all(x == y or round(x, digits) != round(y, digits) for x, y in pairs if x is not None and y is not None):
            return digits
    return nd + most


@dataclass
class Delta:
    study: str
    variant: str
    scale: str
    metric: str
    delta: float | None  # fractions, like the metrics
    lo: float | None
    hi: float | None
    interval: str  # seeds+images | image-only | "" (no interval)
    p: float | None
    seeds: int
    baseline_seeds: int
    spread: float | None  # max - min of the baseline's seeds (fraction), None when it has one seed
    n_images: int | None
    n_boot: int | None
    level: float
    method: str
    p_holm: float | None = None
    family: int = 0

    @property
    def excludes_zero(self) -> bool:
        return self.lo is not None and self.hi is not None and (self.lo > 0 or self.hi < 0)

    @property
    def within_seed_noise(self) -> str | None:
        """Why the delta may be seed noise, or None when it is larger than the baseline seeds' spread (or the
        interval already holds the seed noise and no spread was measured)."""
        if self.delta is None:
            return None
        if self.spread is None:
            return None if self.interval == SEEDS_AND_IMAGES else "seed noise not measured (the baseline has one seed)"
        if abs(self.delta) <= self.spread:
            nd = nd_apart([(100 * abs(self.delta), 100 * self.spread)])
            return (f"|\u0394| {100 * abs(self.delta):.{nd}f} is within the baseline seeds' spread "
                    f"{100 * self.spread:.{nd}f}")
        return None

    @property
    def significant(self) -> bool:
        return (self.excludes_zero and self.p_holm is not None and self.p_holm <= 1 - self.level
                and self.within_seed_noise is None)

    @property
    def why_not_bold(self) -> str | None:
        """For an interval that excludes 0 but is not bold: which test it failed."""
        if not self.excludes_zero or self.significant:
            return None
        if self.p_holm is None:
            return "no p-value in deltas.csv: no correction possible"
        if self.p_holm > 1 - self.level:
            return f"{CORRECTION}-adjusted p {self.p_holm:.2g} over {self.family} comparisons"
        return self.within_seed_noise

    @property
    def label(self) -> str:
        return {SEEDS_AND_IMAGES: "seeds + images", IMAGE_ONLY: "image-only"}.get(self.interval, "")


class Deltas:
    """deltas.csv read once: the rows by (study, variant, scale, metric) and Holm's correction per study."""

    def __init__(self, rows: list[dict[str, str]], columns: set[str]):
        self.new_format = "p_value" in columns or "seeds" in columns
        counts: dict[tuple, int] = {}
        for r in rows:
            key = (r.get("study", ""), r.get("variant", ""), r.get("scale", ""), r.get("metric", ""))
            counts[key] = counts.get(key, 0) + 1
        self.by_key: dict[tuple, Delta] = {}
        self.old: set[tuple] = {k for k, n in counts.items() if n > 1 and not self.new_format}
        for r in rows:
            key = (r.get("study", ""), r.get("variant", ""), r.get("scale", ""), r.get("metric", ""))
            if key in self.old:
                continue
            lo, hi = num(r.get("ci_lo")), num(r.get("ci_hi"))
            interval = r.get("interval", "") or (IMAGE_ONLY if lo is not None else "")
            spread = num(r.get("seed_spread"))
            self.by_key[key] = Delta(*key, num(r.get("delta")), lo, hi, interval if lo is not None else "",
                                     num(r.get("p_value")), len([s for s in r.get("seeds", "").split(";") if s]) or 1,
                                     len([s for s in r.get("baseline_seeds", "").split(";") if s]) or 1,
                                     spread if spread is not None and math.isfinite(spread) else None,
                                     integer(r.get("n_images")), integer(r.get("n_boot")),
                                     num(r.get("level")) or 0.95, r.get("method", ""))
        for study in {k[0] for k in self.by_key}:  # the family: every delta of the study with a p-value
            family = [d for d in self.by_key.values() if d.study == study and d.p is not None]
            for d, adjusted in zip(family, holm([d.p for d in family])):
                d.p_holm, d.family = float(adjusted), len(family)

    def of(self, study: str, variant: str, scale: str, metric: str) -> Delta | None:
        return self.by_key.get((study, variant, scale, metric))

    def is_old(self, study: str, variant: str, scale: str, metric: str) -> bool:
        return (study, variant, scale, metric) in self.old

    def family(self, study: str) -> int:
        return sum(d.study == study and d.p is not None for d in self.by_key.values())


def method_text(deltas: list[Delta]) -> str:
    """The caption's sentence on how the deltas in a table were computed: method, images, resamples, seeds."""
    shown = [d for d in deltas if d.interval]
    if not shown:
        return "no delta with an interval in this table"
    images = sorted({d.n_images for d in shown if d.n_images})
    boots = sorted({d.n_boot for d in shown if d.n_boot})
    seeds = sorted({f"{d.seeds} vs {d.baseline_seeds}" for d in shown})
    spreads = sorted({round(100 * d.spread, 2) for d in shown if d.spread is not None})
    how = {SEEDS_AND_IMAGES: "seeds + images (Student t over the seed and the image variance, Welch\u2013"
                             "Satterthwaite df; both sides have \u2265 2 seeds)",
           IMAGE_ONLY: "image-only (paired percentile bootstrap; a side has one seed, so seed noise is not in it)"}
    text = (f"\u0394 = variant seed mean \u2212 baseline seed mean ({', '.join(seeds)} seeds), 95 % interval "
            f"{' or '.join(how[k] for k in sorted({d.interval for d in shown}) if k in how)}, on "
            f"{'/'.join(str(n) for n in images) or '?'} validation images with "
            f"{'/'.join(str(n) for n in boots) or '?'} paired image resamples")
    if spreads:
        text += f"; baseline seeds' spread (max \u2212 min) {'/'.join(f'{s:g}' for s in spreads)} points"
    return text


def comparisons_line(deltas: list[Delta], families: dict[str, int]) -> str:
    """The multiple-comparison line every table with deltas carries."""
    tested = [d for d in deltas if d.p is not None]
    bold = sum(d.significant for d in deltas)
    fam = ", ".join(f"{n} in study {s}" for s, n in families.items() if n)
    if not tested:
        return (f"Multiple comparisons: {len(deltas)} \u0394 in this table, none with a p-value, so no correction "
                "is possible and nothing is bold.")
    return (f"Multiple comparisons: {len(tested)} \u0394 with a p-value in this table; {CORRECTION}'s family-wise "
            f"correction at {100 * (1 - tested[0].level):g} % over each study's comparisons ({fam}). Bold: the "
            "interval excludes 0, the \u0394 survives the correction and exceeds the baseline seeds' spread "
            f"({bold} bold).")
