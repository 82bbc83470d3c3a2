"""One module per job kind: what the plan, the checks and the cost model ask of a kind instead of branching on its
name. A kind is its registry row (``yolov12.registry.JOB_KINDS``: result file, runner, scope, resources) and this
module (``JobKind.hooks_module``: ``yolov12/workflow/kinds/<name>.py`` by default). The Snakefile's rules, the
config schema's ``resources.<kind>`` and ``measure`` lists, the aggregation's benchmark rows and the report's cost
table already loop over the registry.

What a kind's module defines (light: no torch, no Ultralytics at import; the workflow's parse calls it):

- ``identity(plan, run_dir) -> dict``: everything that determines its result (docs/identity.md). A session kind
  (scope ``session``) has the plan's session identity instead and defines ``cell(plan, run) -> dict`` (what one
  architecture adds to its scale's session besides its model and folder) and ``settings(plan) -> dict`` (how the
  session measures every cell).
- ``inputs(plan, run_dir) -> dict[str, str]``: what it reads besides the MLflow store and the kinds it follows
  (``JobKind.after``). Optional.
- ``sizes(plan, run) -> dict[use, (sizes, (file, key))]``: every (h, w) its model sees, with the config file and key
  that set the size (a size no model can take is that key's fault). Optional.
- ``cost(plan, cal, run, run_dir, res) -> (seconds, exact, weights bytes)`` beyond its fixed part (docs/cost.md), or
  None where the calibration says nothing about such a job; ``RESULT_BYTES``: its disk besides weights.
- ``TABLES`` (name -> file) and ``aggregate(tables, base, row, files)``: the rows its results add to the aggregated
  tables for one study row (docs/results-schema.md); a kind measuring an architecture is asked once per
  architecture, a training's kind once per training. Optional: a kind without them is in jobs.csv only.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ...registry import JOB_KINDS


def of(kind: str) -> ModuleType:
    """The module of ``kind``'s hooks (imported on first use)."""
    return importlib.import_module(JOB_KINDS[kind].hooks_module)


def hook(kind: str, name: str, default: Any = None) -> Any:
    """A kind's optional hook or value, ``default`` where its module does not define it."""
    return getattr(of(kind), name, default)


def tables() -> dict[str, str]:
    """Every table the aggregation makes of the kinds' results: name -> file under results/<config>/."""
    return {name: file for kind in JOB_KINDS for name, file in hook(kind, "TABLES", {}).items()}
