"""Keep model size constant across an ablation: find the ``attn_width`` that matches a baseline's parameters.

Paper Table 5(g) varies the MLP ratio of YOLOv12-L "with feature dimensions adjusted to keep model size constant".
Our knob for that adjustment is ``attn_width``: the hidden width of every attention stage times a factor chosen on
the head grid (``shapes.attn_width_grid``), so every stage keeps whole 32-channel heads. Params grow monotonically
with the width, so a bisection over the grid finds the value closest to the baseline's BN-fused parameter count
(the count the paper prints) in a handful of builds.
"""

from __future__ import annotations

from typing import Any

from ..errors import UserError
from . import shapes


def _fused_params(family: str, scale: str, task: str, hierarchy: str, knobs: dict[str, Any], nc: int | None) -> int:
    from ..complexity import count_params, fused
    from .build import torch_model

    return count_params(fused(torch_model(family, scale, task, hierarchy, nc, **knobs)))


def match_params(family: str = "yolov12", scale: str = "l", task: str = "detect", hierarchy: str = "full", *,
                 knobs: dict[str, Any] | None = None, baseline: dict[str, Any] | None = None,
                 nc: int | None = None, tolerance: float = 0.01, strict: bool = True,
                 imgsz: int = 640) -> dict[str, Any]:
    """The ``attn_width`` on the head grid that brings ``knobs``' BN-fused params closest to ``baseline``'s.

    ``knobs`` is the variant (e.g. ``{"mlp_ratio": 4.0}``), ``baseline`` the reference knobs (default: the
    definition's defaults at this scale). Returns the chosen value with the counts it gives (params fused and
    unfused, paper-convention GFLOPs at ``imgsz``), the relative difference, whether it is within ``tolerance``,
    and every width evaluated. When no width on the grid is within ``tolerance`` it raises ``UserError``, or with
    ``strict=False`` returns the closest one with ``within_tolerance: False``.
    """
    from ..complexity import summary
    from .build import torch_model

    knobs = {k: v for k, v in (knobs or {}).items() if k != "attn_width"}
    target = _fused_params(family, scale, task, hierarchy, dict(baseline or {}), nc)
    grid = shapes.attn_width_grid(family, scale, task, hierarchy, knobs)
    evaluated: dict[float, int] = {}

    def params(i: int) -> int:
        w = grid[i]
        if w not in evaluated:
            evaluated[w] = _fused_params(family, scale, task, hierarchy, {**knobs, "attn_width": w}, nc)
        return evaluated[w]

    lo, hi = 0, len(grid) - 1  # smallest index whose params reach the target (params increase with the width)
    while lo < hi:
        mid = (lo + hi) // 2
        if params(mid) < target:
            lo = mid + 1
        else:
            hi = mid
    best = min((i for i in (lo - 1, lo) if 0 <= i < len(grid)), key=lambda i: abs(params(i) - target))
    width = grid[best]
    relative = params(best) / target - 1
    if strict and abs(relative) > tolerance:
        raise UserError(f"no attn_width on the head grid brings {knobs} within {tolerance:.1%} of the baseline's "
                        f"{target:,} fused params (closest: {width:g}, {relative:+.2%})", key="attn_width",
                        allowed=f"a looser tolerance, or other knobs; grid {grid[0]:g}..{grid[-1]:g} step {grid[0]:g}")
    s = summary(torch_model(family, scale, task, hierarchy, nc, **knobs, attn_width=width), imgsz)
    return {"family": family, "scale": scale, "task": task, "hierarchy": hierarchy,
            "knobs": {**knobs, "attn_width": width}, "attn_width": width,
            "params_fused": s["params_fused"], "params": s["params"], "gflops": s["gflops"], "imgsz": imgsz,
            "baseline_knobs": dict(baseline or {}), "baseline_params_fused": target, "relative": relative,
            "tolerance": tolerance, "within_tolerance": abs(relative) <= tolerance,
            "evaluated": dict(sorted(evaluated.items()))}
