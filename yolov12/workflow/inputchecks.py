"""Checks of config values that the schema alone cannot make, run when the plan is built (before any job):

- every Ultralytics train argument's type and range wherever it is set (``train.recipe``, ``per_scale``,
  ``per_task``, a variant's ``train``), from the key sets of the installed Ultralytics, read from its source with
  ``ast`` (no import); ``imgsz``, ``batch`` and ``epochs`` there are held to the same rules as ``train.imgsz`` ...;
- no NaN or infinity anywhere in a config (JSON schema's ``minimum`` lets NaN through);
- names that select things: ``studies`` mixed with ``all``, ``opt_in`` groups, a study's ``baseline``;
- the tracking URI's scheme, and a short probe of its server;
- the data roots a real-data config needs.

Each failure is one ``UserError`` line naming the file and the key, with "did you mean" where a name is close.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import math
import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import UserError
from ..registry import REAL_DATA, TASK_TABLE

# the suite's own sizes, held to the schema's rules for train.imgsz / train.batch / train.epochs wherever set
SUITE_INTS = {"imgsz": (32, 8192), "batch": (1, None), "epochs": (1, None)}
OURS_NUMBERS = {"epochs_scale": "a number > 0", "max_loss": "a finite number > 0"}
FALLBACK_OPTIMIZERS = ("Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSProp", "SGD", "auto")
PROBE_TIMEOUT_S = 2.0
NETWORK_SCHEMES = {"http": 80, "https": 443, "postgresql": 5432, "mysql": 3306, "mssql": 1433}
FILE_SCHEMES = ("sqlite", "file")


def did_you_mean(name: Any, choices) -> str:
    by_lower = {str(c).lower(): str(c) for c in choices}  # 'adamw' is a typo of 'AdamW'
    close = [by_lower[c] for c in difflib.get_close_matches(str(name).lower(), list(by_lower), n=3, cutoff=0.6)]
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _ultralytics_file(*parts: str) -> Path | None:
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    return path if path.is_file() else None


def _literal(node: ast.AST):
    if isinstance(node, ast.Call) and node.args:  # frozenset({...})
        node = node.args[0]
    return ast.literal_eval(node)


@lru_cache(maxsize=1)
def ultralytics_arg_kinds() -> dict[str, Any]:
    """{CFG_FLOAT_KEYS: set, CFG_FRACTION_KEYS: set, CFG_INT_KEYS: set, CFG_BOOL_KEYS: set, CFG_STR_KEYS: set,
    CFG_INT_MIN: dict} of the installed Ultralytics (its cfg/__init__.py read as text), empty if not found."""
    path = _ultralytics_file("cfg", "__init__.py")
    out: dict[str, Any] = {}
    if path is None:
        return out
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.startswith("CFG_") and name.endswith(("_KEYS", "_MIN")):
                try:
                    out[name] = _literal(node.value)
                except (ValueError, TypeError, SyntaxError):
                    continue
    return out


@lru_cache(maxsize=1)
def ultralytics_optimizers() -> tuple[str, ...]:
    """The optimizer names the installed Ultralytics trainer accepts (its ``optimizers = {...}``)."""
    path = _ultralytics_file("engine", "trainer.py")
    if path is not None:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id == "optimizers" and isinstance(node.value, ast.Set)):
                try:
                    return tuple(sorted(ast.literal_eval(node.value)))
                except ValueError:
                    break
    return FALLBACK_OPTIMIZERS


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bad(source, key, what, allowed) -> UserError:
    return UserError(what, file=source, key=key, allowed=allowed)


def check_train_value(name: str, v: Any, source, key: str) -> None:
    """One train argument (``key`` is its dotted place in ``source``), by what the installed Ultralytics accepts."""
    kinds = ultralytics_arg_kinds()
    if name in SUITE_INTS:
        lo, hi = SUITE_INTS[name]
        allowed = f"an integer >= {lo}" + (f" and <= {hi}" if hi else "") + f" (as train.{name})"
        if not isinstance(v, int) or isinstance(v, bool) or v < lo or (hi and v > hi):
            raise _bad(source, key, f"{v!r} is not allowed", allowed)
        return
    if name == "epochs_scale":
        if not _number(v) or not math.isfinite(v) or v <= 0:
            raise _bad(source, key, f"{v!r} is not allowed", OURS_NUMBERS[name])
        return
    if name == "max_loss":
        if not _number(v) or not math.isfinite(v) or v <= 0:
            raise _bad(source, key, f"{v!r} is not allowed", OURS_NUMBERS[name])
        return
    if v is None:
        raise _bad(source, key, "is null", "a value, or leave the key out for Ultralytics' default")
    if isinstance(v, float) and not math.isfinite(v):
        raise _bad(source, key, f"{v!r} is not a finite number", "a finite number")
    if name == "optimizer":
        names = ultralytics_optimizers()
        if v not in names:
            raise _bad(source, key, f"{v!r} is not an Ultralytics optimizer{did_you_mean(v, names)}", names)
    elif name in kinds.get("CFG_BOOL_KEYS", ()):
        if not isinstance(v, bool):
            raise _bad(source, key, f"{v!r} has the wrong type", "true or false")
    elif name in kinds.get("CFG_INT_KEYS", ()):
        low = kinds.get("CFG_INT_MIN", {}).get(name, -1 if name == "save_period" else 0)
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise _bad(source, key, f"{v!r} is not allowed", f"an integer >= {low}")
    elif name in kinds.get("CFG_FRACTION_KEYS", ()):
        if name == "fraction":
            ok = _number(v) and (0 < v <= 1 or (isinstance(v, int) and v > 1))
            allowed = "a fraction in (0, 1] or an image count > 1"
        elif name == "lr0":
            ok, allowed = _number(v) and 0 < v <= 1, "a number in (0, 1]"
        else:
            ok, allowed = _number(v) and 0 <= v <= 1, "a number in [0, 1]"
        if not ok:
            raise _bad(source, key, f"{v!r} is not allowed", allowed)
    elif name in kinds.get("CFG_FLOAT_KEYS", ()):
        if not _number(v) or v < 0:
            raise _bad(source, key, f"{v!r} is not allowed", "a number >= 0")
    elif name in kinds.get("CFG_STR_KEYS", ()):
        if not isinstance(v, str):
            raise _bad(source, key, f"{v!r} has the wrong type", "a string")


def check_train_values(args: dict[str, Any], source, key: str) -> None:
    for name, v in args.items():
        check_train_value(name, v, source, f"{key}.{name}")


# ------------------------------------------------------------------------------------------------ NaN, infinity
def check_finite(node: Any, source, key: str = "") -> None:
    """No NaN or infinity anywhere (YAML's .nan / .inf pass every JSON-schema bound)."""
    if isinstance(node, float) and not math.isfinite(node):
        raise UserError(f"{node!r} is not a finite number", file=source, key=key or "<top>",
                        allowed="a finite number")
    if isinstance(node, dict):
        for k, v in node.items():
            check_finite(v, source, f"{key}.{k}" if key else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check_finite(v, source, f"{key}.{i}" if key else str(i))


# ------------------------------------------------------------------------------------------------ names
PATH_KEYS = ("ablations_dir", "reference_logs", "data.coco_root", "data.imagenet_root", "data.dota_root")


def check_path_values(config: dict[str, Any], source) -> None:
    """Folders the jobs get on their command line: one starting with '-' would be read as a flag there."""
    for dotted in PATH_KEYS:
        node: Any = config
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str) and node.strip().startswith("-"):
            raise UserError(f"{node!r} reads as a command-line flag", file=source, key=dotted,
                            allowed="a folder path (write ./-name for a folder whose name starts with '-')")


def check_study_names(names: list[str], directory: Path, source) -> None:
    """``all`` alone selects every study; mixed with names, the unknown one is blamed, else the mix is refused."""
    if "all" not in names or names == ["all"] or not directory.is_dir():
        return
    available = sorted(p.stem for p in directory.glob("*.yaml"))
    unknown = [n for n in names if n != "all" and n not in available]
    if unknown:
        raise UserError(f"unknown study {unknown[0]!r} in {directory}{did_you_mean(unknown[0], available)}",
                        file=source, key="studies", allowed=["all", *available])
    raise UserError("'all' already selects every study: list either all or study names", file=source,
                    key="studies", allowed=["all", *available])


def check_opt_in(opt_in: list[str], groups: dict[str, list[str]], source) -> None:
    """Every opt_in group of the config is used by some study file (a typo would silently select nothing). A folder
    whose studies define no group at all is left alone: a shared config (the default's [extras, area8]) may point at
    a small folder of its own."""
    if not groups:
        return
    for name in opt_in:
        if name not in groups:
            raise UserError(f"opt_in group {name!r} is used by no study file{did_you_mean(name, groups)}",
                            file=source, key="opt_in", allowed=sorted(groups) or "none (no study has opt_in)")


def opt_in_groups(study: dict[str, Any]) -> set[str]:
    found = {study["opt_in"]} if study.get("opt_in") else set()
    for delta in (study.get("variants") or {}).values():
        if isinstance(delta, dict) and delta.get("opt_in"):
            found.add(delta["opt_in"])
    return found


def check_baseline(study: dict[str, Any], path) -> None:
    baseline, variants = study.get("baseline"), study.get("variants") or {}
    if baseline is not None and variants and baseline not in variants:
        raise UserError(f"{baseline!r} is not a variant of this study{did_you_mean(baseline, variants)}",
                        file=path, key="baseline", allowed=sorted(variants))


# ------------------------------------------------------------------------------------------------ tracking
def check_tracking_uri(configured: str | None, source) -> None:
    """The scheme is one MLflow stores use; a server answers a TCP connection within a short probe."""
    if configured:
        uri, where, key = configured, source, "mlflow.tracking_uri"
    elif os.environ.get("MLFLOW_TRACKING_URI"):
        uri, where, key = os.environ["MLFLOW_TRACKING_URI"], "environment", "MLFLOW_TRACKING_URI"
    else:
        return
    allowed = "http(s)://host:port, postgresql://..., mysql://..., sqlite:///path or file:///path"
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0].lower()
    if scheme in FILE_SCHEMES:
        return
    if scheme not in NETWORK_SCHEMES or not parsed.hostname:
        raise UserError(f"{uri!r} is not a tracking URI MLflow can use (scheme {parsed.scheme or 'missing'!r})",
                        file=where, key=key, allowed=allowed)
    try:
        port = parsed.port or NETWORK_SCHEMES[scheme]
    except ValueError:
        raise UserError(f"{uri!r} has a bad port", file=where, key=key, allowed=allowed) from None
    try:
        socket.create_connection((parsed.hostname, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as e:
        raise UserError(f"the tracking server at {parsed.hostname}:{port} does not answer ({e.strerror or e}; "
                        f"probed for {PROBE_TIMEOUT_S:g} s)", file=where, key=key,
                        allowed="a running MLflow server (docs/cluster.md), or null for SQLite under results/") from None


# ------------------------------------------------------------------------------------------------ data roots
def check_data_roots(data: dict[str, Any], tasks: set[str], source) -> None:
    """A real-data config names a dataset folder for every task it trains (COCO may be downloaded into one)."""
    if data.get("kind") != "real":
        return
    for task in sorted(tasks):
        key = REAL_DATA[TASK_TABLE[task].real_data].root_key
        root = data.get(key)
        if not root:
            raise UserError(f"data.kind is real and a {task} study runs, but no dataset folder is given",
                            file=source, key=f"data.{key}", allowed="the dataset's folder (docs/data.md)")
        # a folder that is missing here is not refused at parse: the shipped paper config names the cluster's
        # /data/... and must dry-run anywhere; the data job refuses it first, in one line with exit 2
