"""Where a workflow run's config comes from, as Snakemake's conventions make it: the ``--configfile``(s) or the
embedded default (the Snakefile's ``configfile:``), ``--config`` merged on top, relative paths from the folder the
workflow runs in; then validated and planned (``yolov12.workflow.plan.make_plan``). Light, like the plan."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..settings import SELECTION
from .plan import Plan, make_plan

DEFAULT_CONFIG = Path("workflows") / "config" / "default.yaml"  # the embedded default, under the workflow's folder


def from_snakemake(configfiles, overrides: dict[str, Any] | None, basedir: str | Path,
                   workdir: str | Path = ".") -> Plan:
    """The plan of a Snakemake run, its config as Snakemake's conventions make it: the ``--configfile``(s) given
    (re-read strictly: a duplicate key is an error), or else the embedded default (the Snakefile's ``configfile:``),
    with ``--config`` (``overrides``) merged on top. A given config file is a whole config (it needs a ``name``); it
    is not merged into the default, whose small CPU budgets would otherwise leak into it.

    Paths in a config are relative to Snakemake's working directory (``workdir``); an unset ``ablations_dir`` means
    the workflow's own folder of studies (written relative to ``workdir``). An error in a key ``--config`` set names
    ``--config``, not the file."""
    from snakemake.utils import update_config

    from ..yamlio import load_yaml

    overrides = _typed(dict(overrides or {}))
    files = [str(f) for f in configfiles or []] or [str(Path(basedir) / DEFAULT_CONFIG)]
    config: dict[str, Any] = {}
    for f in files:
        loaded = load_yaml(f, "config file")  # duplicate keys and YAML errors, named by file and line
        update_config(config, loaded if isinstance(loaded, dict) else {})
    update_config(config, overrides)
    source = ", ".join(files)
    if "ablations_dir" not in config:  # unset: the workflow's own studies, wherever it runs
        config["ablations_dir"] = os.path.relpath(Path(basedir, SELECTION.ablations_dir), workdir)
    try:
        if "name" not in config:
            raise UserError("a config needs a name (its results go to results/<name>/)", file=source, key="name",
                            allowed="letters, digits, '.', '_' and '-'")
        return make_plan(config, source, workdir)
    except UserError as e:
        if e.file == source and (e.key or "").split(".")[0] in overrides:
            raise UserError(e.what, file="--config", key=e.key, allowed=e.allowed) from None
        raise


def _typed(value: Any) -> Any:
    """``--config`` values as YAML types: Snakemake parses a nested value with YAML's base loader, which leaves
    every scalar a string (``seeds=[0,1]`` arrives as ``['0', '1']``); a scalar string is read as YAML reads it."""
    import yaml

    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, str):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return parsed if parsed is None or isinstance(parsed, (bool, int, float)) else value
    return value
