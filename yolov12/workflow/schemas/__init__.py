"""The config and study JSON schemas, completed from the registry, and a validator whose errors are one line.

The YAML files beside this module hold the schemas' structure; lists we own are written there as placeholders
(``x-enum: scales``, ``x-keys: tasks``, ``x-per-kind: {...}``) and filled in here from ``yolov12.registry``, so a
new scale, task, runtime or job kind is added in one place; ``x-settings: <group>`` adds a settings group's keys
and defaults from ``yolov12.settings`` (where the command line reads its defaults too). Defaults are filled in while
validating, as ``snakemake.utils.validate(..., set_default=True)`` does (jsonschema's ``properties`` extended to set
each missing property's default, so a ``$ref``'d schema's defaults count too); its own function is not called
because it reads the schema from a file (ours is completed in memory; the parse writes none), shares the default
objects between instances, and raises the first error as several lines rather than the best match as one.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from ... import registry, settings
from ...errors import UserError
from ...yamlio import load_yaml

HERE = Path(__file__).parent


def _lists() -> dict[str, list]:
    return {"scales": list(registry.SCALES), "tasks": list(registry.TASKS), "families": list(registry.FAMILIES),
            "hierarchies": list(registry.HIERARCHIES), "precisions": list(registry.PRECISIONS),
            "job_kinds": list(registry.JOB_KINDS), "runtimes": list(registry.runtimes())}


def _complete(node: Any, lists: dict[str, list]) -> Any:
    if isinstance(node, list):
        return [_complete(n, lists) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _complete(v, lists) for k, v in node.items() if not k.startswith("x-")}
    if "x-settings" in node:  # the group's keys first, then those the schema adds (train.recipe, ...)
        group = settings.GROUPS[node["x-settings"]].properties
        out["properties"] = {**_complete(copy.deepcopy(group), lists), **out.get("properties", {})}
    if "x-enum" in node:
        out["enum"] = lists[node["x-enum"]]
    if "x-keys" in node:
        out.setdefault("additionalProperties", False)
        out["properties"] = {k: {"type": "object"} for k in lists[node["x-keys"]]}
    if "x-per-kind" in node:
        out["properties"] = {k: _complete(copy.deepcopy(node["x-per-kind"]), lists) for k in lists["job_kinds"]}
    return out


@lru_cache(maxsize=None)
def _schema(name: str) -> dict[str, Any]:
    return _complete(load_yaml(HERE / f"{name}.schema.yaml", "schema"), _lists())


def config_schema() -> dict[str, Any]:
    return copy.deepcopy(_schema("config"))


def study_schema() -> dict[str, Any]:
    return copy.deepcopy(_schema("study"))


def _key(path) -> str:
    return ".".join(str(p) for p in path)


def validate(instance: Any, schema: dict[str, Any], source: str | Path, error: type[UserError] = UserError) -> Any:
    """Validate and fill defaults into ``instance`` (in place, as Snakemake's validate does); the best error is
    raised as one line naming ``source``, the key and what is allowed."""
    import jsonschema

    errors = list(_with_defaults()(schema).iter_errors(instance))  # every error: filling happens as it validates
    best = jsonschema.exceptions.best_match(errors)
    if best is not None:
        raise _one_line(best, source, error)
    return instance


@lru_cache(maxsize=None)
def _with_defaults():
    """Draft 2020-12 whose ``properties`` first sets each missing property to (a copy of) its default."""
    from jsonschema import Draft202012Validator, validators

    properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from properties(validator, props, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})


def _one_line(e, source, error: type[UserError]) -> UserError:
    key = _key(e.absolute_path)
    if e.validator == "additionalProperties":
        allowed = sorted((e.schema.get("properties") or {}).keys())
        extra = [k for k in (e.instance or {}) if k not in allowed]
        name = extra[0] if extra else "?"
        return error("unknown key", file=source, key=_key([*e.absolute_path, name]), allowed=allowed or "none")
    if e.validator == "enum":
        from ..inputchecks import did_you_mean

        hint = did_you_mean(e.instance, e.validator_value) if isinstance(e.instance, str) else ""
        return error(f"{e.instance!r} is not allowed{hint}", file=source, key=key or "<top>",
                     allowed=e.validator_value)
    if e.validator == "required":
        return error(e.message.replace("'", ""), file=source, key=key or "<top>")
    if e.validator in ("minItems", "minProperties"):
        return error("must not be empty", file=source, key=key or "<top>")
    if e.validator == "uniqueItems":
        seen, dup = set(), None
        for item in e.instance:
            marker = repr(item)
            if marker in seen:
                dup = item
                break
            seen.add(marker)
        return error(f"{dup!r} is listed twice; list each once", file=source, key=key)
    if e.validator == "type":
        return error(f"{e.instance!r} has the wrong type", file=source, key=key or "<top>",
                     allowed=e.validator_value)
    return error(e.message, file=source, key=key or "<top>")
