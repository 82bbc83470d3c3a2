"""The config and study JSON schemas, completed from the registry, and a validator whose errors are one line.

The YAML files beside this module hold the schemas' structure; lists we own are written there as placeholders
(``x-enum: scales``, ``x-keys: tasks``, ``x-per-kind: {...}``) and filled in here from ``yolov12.registry``, so a
new scale, task, runtime or job kind is added in one place. Defaults are filled into the validated instance.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from ... import registry
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


def fill_defaults(instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """Insert the schema's defaults for missing properties, recursively (objects defaulting to {} included)."""
    root = root or schema
    schema = _resolve(schema, root)
    if not isinstance(instance, dict):
        return instance
    properties = schema.get("properties") or {}
    for key, sub in properties.items():
        sub = _resolve(sub, root)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            fill_defaults(instance[key], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in properties:
                fill_defaults(value, extra, root)
    return instance


def _resolve(sub: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """A local ``$ref`` replaced by its target (the referring node's own keys win)."""
    ref = sub.get("$ref")
    if not ref:
        return sub
    target = root
    for part in ref.lstrip("#/").split("/"):
        target = target[part]
    return {**_resolve(target, root), **{k: v for k, v in sub.items() if k != "$ref"}}


def _key(path) -> str:
    return ".".join(str(p) for p in path)


def validate(instance: Any, schema: dict[str, Any], source: str | Path, error: type[UserError] = UserError) -> Any:
    """Validate and fill defaults; the first error is raised as one line naming ``source``, the key and what is
    allowed."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    best = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if best is not None:
        raise _one_line(best, source, error)
    return fill_defaults(instance, schema)


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
