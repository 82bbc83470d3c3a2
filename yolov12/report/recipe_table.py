"""Table 7: the paper's training recipe beside this config's (config.json), and the weight decay the optimizer
really applies: Ultralytics scales ``weight_decay`` by ``batch * accumulate / nbs`` (ultralytics/engine/trainer.py,
``_setup_train``), so the paper's 5e-4 at batch 256 and the default nbs 64 becomes 2e-3 (the official code trains the
same way)."""

from __future__ import annotations

from .cells import Ctx
from .model import Cell, Table, dash
from .paper import paper_table
from .parse import num, truthy

ULTRALYTICS_NBS = 64  # Ultralytics' default nominal batch size (its cfg/default.yaml)
ULTRALYTICS_WEIGHT_DECAY = 5e-4  # and its default weight_decay, used when the config does not set one


def effective_weight_decay(weight_decay: float, batch: int, nbs: int) -> tuple[float, int]:
    """(weight decay the optimizer applies, gradient accumulation steps), as Ultralytics' trainer computes them:
    accumulate = max(round(nbs / batch), 1); decay = weight_decay * batch * accumulate / nbs."""
    accumulate = max(round(nbs / batch), 1)
    return weight_decay * batch * accumulate / nbs, accumulate


def _train(ctx: Ctx) -> dict:
    return ctx.results.config.get("train") or {}


def our_value(ctx: Ctx, arg: str, scale: str):
    """The config's value of a training argument for one scale (per-scale entry, recipe, train section), or None."""
    train = _train(ctx)
    per_scale = (train.get("per_scale") or {}).get(scale) or {}
    for source in (per_scale, train.get("recipe") or {}, train):
        if arg in source:
            return source[arg]
    return None


# Table 7 rows whose value the training itself records (train.json "optimizer" -> accuracy.csv <arg>_ran): what ran,
# which differs from the config when Ultralytics' ``optimizer: auto`` picks its own optimizer and learning rate.
RAN_COLUMNS = {"optimizer": "optimizer_ran", "lr0": "lr0_ran", "momentum": "momentum_ran"}


def ran_value(ctx: Ctx, arg: str, scale: str):
    """The value every converged seed at ``scale`` trained with (one, or a ';'-joined list when they differ), or
    None when no run recorded it."""
    column = RAN_COLUMNS.get(arg)
    if column is None:
        return None
    seen = []
    for run in ctx.results.runs:
        if run.scale != scale or run.study == "peers":
            continue
        for row in run.accuracy:
            v = (row.get(column) or "").strip()
            if v and v not in seen:
                seen.append(v)
    if not seen:
        return None
    return ";".join(f"{num(v):g}" if num(v) is not None else v for v in seen)


def shown_value(ctx: Ctx, arg: str, scale: str):
    """The config's value, with what actually ran beside it where the training recorded something else."""
    asked, ran = our_value(ctx, arg, scale), ran_value(ctx, arg, scale)
    if ran is None:
        return asked, asked
    if asked is None:
        return f"not set, ran {ran}", ran
    if _same(str(ran), asked):
        return asked, asked
    return f"{str(asked).lower() if isinstance(asked, bool) else asked}, ran {ran}", ran


def _same(paper: str, ours) -> bool:
    if isinstance(ours, bool) or truthy(paper) is not None and num(paper) is None:
        return truthy(paper) == truthy(ours)
    p, o = num(paper), num(ours)
    if p is not None and o is not None:
        return abs(p - o) <= 1e-9 * max(1.0, abs(p))
    return str(paper).strip().lower() == str(ours).strip().lower()


def weight_decay_statement(ctx: Ctx) -> str:
    train = _train(ctx)
    recipe = train.get("recipe") or {}
    wd = num(recipe.get("weight_decay"))
    wd_text = f"{wd:g}" if wd is not None else None
    if wd is None:
        wd, wd_text = ULTRALYTICS_WEIGHT_DECAY, f"{ULTRALYTICS_WEIGHT_DECAY:g} (Ultralytics' default; not set)"
    nbs = num(recipe.get("nbs")) or ULTRALYTICS_NBS
    batch = num(train.get("batch"))
    paper_eff, _ = effective_weight_decay(5e-4, 256, ULTRALYTICS_NBS)
    text = (f"Weight decay: the paper's Table 7 prints 5e-4; Ultralytics applies weight_decay \u00d7 batch \u00d7 "
            f"accumulate / nbs, so at the paper's batch 256 and nbs {ULTRALYTICS_NBS} the optimizer's decay is "
            f"{paper_eff:g} (the official code trains the same way). ")
    if not ctx.results.config:
        return text + "This config: not known (no config.json in the results)."
    if batch is None or batch <= 0:
        return text + "This config: batch not fixed in config.json (auto batch), so its effective decay is not known."
    eff, acc = effective_weight_decay(wd, int(batch), int(nbs))
    return text + (f"This config: weight_decay {wd_text}, batch {int(batch)}, nbs {int(nbs)}, accumulate {acc} "
                   f"\u2192 effective weight decay {eff:.3g}.")


def table7(ctx: Ctx) -> Table:
    scales = list(ctx.results.config.get("scales") or []) or sorted({r.scale for r in ctx.results.runs
                                                                     if r.study != "peers"})
    t = Table("table7", "7", "Training recipe",
              "The paper's Table 7 (appendix) beside this config's training arguments (config.json: train, "
              "train.recipe, train.per_scale) as Ultralytics arguments, per scale where they differ (lrf is a "
              "fraction of lr0: the paper's final learning rate 1e-4 = lrf 0.01; its linear decay = cos_lr false). "
              "\u201cnot set\u201d = Ultralytics' default applies; \u201cran\u201d = the optimizer, initial learning "
              "rate and momentum the training recorded (Ultralytics' optimizer: auto picks its own).",
              ["Group", "Hyper-parameter", "Paper (N/S/M/L/X)", "This config", "Same?"], align="lllll")
    if not ctx.results.config:
        t.note("No config.json in the results: this config's recipe is not known.")
    last = None
    for p in paper_table("table7_recipe"):
        if not ctx.results.config:
            ours_cell, same = dash("no config.json"), Cell("")
        else:
            pairs = {s: shown_value(ctx, p["arg"], s) for s in scales}
            values = {s: text for s, (text, _) in pairs.items()}
            compared = {s: v for s, (_, v) in pairs.items() if v is not None}
            shown = {s: v for s, v in values.items() if v is not None}
            if not shown:
                ours_cell, same = Cell("not set"), dash("not set")
            else:
                texts = {s: f"{p['arg']}={str(v).lower() if isinstance(v, bool) else v}" for s, v in shown.items()}
                one = len(set(texts.values())) == 1 and len(shown) == len(values)
                ours_cell = Cell(next(iter(texts.values())) if one else
                                 ", ".join(f"{s.upper()} {v}" for s, v in texts.items()))
                ok = all(_same(p[s], v) for s, v in compared.items() if s in p)
                same = Cell("yes" if ok else "no", strong=not ok)
        t.add([Cell(p["group"] if p["group"] != last else ""), Cell(p["hyperparameter"]), Cell(p["printed"]),
               ours_cell, same], rule=p["group"] != last)
        last = p["group"]
    t.note(weight_decay_statement(ctx))
    return t
