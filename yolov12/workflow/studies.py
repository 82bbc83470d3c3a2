"""Studies are data: ``<ablations_dir>/<study>.yaml`` files, each variant a delta on the defaults.

A *run* is one (study, variant, scale, seed), resolved to what determines its result (every knob resolved for its
model). The plan (``yolov12.workflow.plan``) names its directories from its identity (``yolov12.workflow.identity``),
so runs that are the same model, recipe and data share one folder whatever their studies call them, and renaming
a variant or moving it to another study reruns nothing.

Light: imports neither torch nor Ultralytics (the workflow's parse and ``yolov12 variants`` use it).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..registry import JOB_KINDS, LARGE_SCALES, SCALES
from ..yamlio import load_yaml
from . import schemas

DEFAULT_ABLATIONS_DIR = "ablations"


class StudyError(UserError):
    """A study file is malformed; the message names the file and the key."""


@lru_cache(maxsize=None)
def default_knobs(family: str, scale: str, task: str, hierarchy: str) -> tuple[tuple[str, Any], ...]:
    return tuple(_canonical(family, scale, task, hierarchy, {}).items())


def _canonical(family: str, scale: str, task: str, hierarchy: str, knobs: dict[str, Any]) -> dict[str, Any]:
    from ..models import model_yaml
    from ..nn.knobs import Knobs

    k = Knobs.from_mapping(model_yaml(family, scale, task, hierarchy, **knobs)["knobs"]).as_dict()
    # the 'use the definition's value' spellings made explicit, so equal models compare equal
    if k["residual"] == "auto":
        k["residual"] = "on" if scale in LARGE_SCALES else "off"
    if k["mlp_ratio"] is None:
        k["mlp_ratio"] = 1.2 if scale in LARGE_SCALES else 2.0
    if k["area"] is None:
        k["area"] = 4
    return k


def canonical_knobs(family: str, scale: str, task: str, hierarchy: str, knobs: dict[str, Any]) -> dict[str, Any]:
    """Every knob, resolved for this model (defaults <- definition <- scale rules <- the variant's knobs)."""
    return _canonical(family, scale, task, hierarchy, knobs) if knobs else dict(default_knobs(family, scale, task,
                                                                                                 hierarchy))


def knob_delta(family: str, scale: str, task: str, hierarchy: str, knobs: dict[str, Any]) -> dict[str, Any]:
    """The knobs whose resolved value differs from the definition's default at this scale."""
    base = dict(default_knobs(family, scale, task, hierarchy))
    return {k: v for k, v in sorted(knobs.items()) if base.get(k) != v}


@dataclasses.dataclass(frozen=True)
class Run:
    study: str
    table: str
    variant: str
    family: str
    task: str
    hierarchy: str
    scale: str
    seed: int
    knobs: dict[str, Any]  # every knob, resolved
    delta: dict[str, Any]  # the knobs that differ from the definition's defaults
    train: dict[str, Any]  # train overrides of the variant
    measure: tuple[str, ...]
    source: str  # the study file
    peer: str | None = None  # an Ultralytics-defined peer (yolov12.peers) instead of our family

    # set by the plan (yolov12.workflow.plan), which knows the config's recipe and data: the directory of this
    # run's training (and evaluation), and the directory of its architecture's measurements
    run_dir: str = ""
    model_dir: str = ""
    # per session kind this run is measured by, the session folder of its scale (every architecture of the plan
    # measured at that scale by one job: registry.JobKind.scope); a kind it is not measured by has none
    session_dirs: dict[str, str] = dataclasses.field(default_factory=dict)
    trained: str = ""  # the training's digest without its seed: one trained model over its seeds

    def folder(self, kind: str) -> str:
        """The folder holding this run's result of ``kind`` ("" when no job of that kind measures it)."""
        return job_folder(self.row(), kind)

    @property
    def model_name(self) -> str:
        if self.peer:
            return f"{self.peer}-{self.task}-peer"
        return f"{self.family.replace('yolov12', 'yolov12' + self.scale, 1)}-{self.task}-{self.hierarchy}"

    @property
    def is_default(self) -> bool:
        """Default knobs, recipe and hierarchy for this scale: the paper's model (any seed)."""
        return not self.peer and not self.delta and not self.train and self.hierarchy == "full"

    def row(self) -> dict[str, Any]:
        # a peer is named as the paper and Ultralytics name it: family yolov9 / yolov10 / yolo11, scale t, s, c, ...
        family, scale = (self.peer[:-1], self.peer[-1]) if self.peer else (self.family, self.scale)
        return {"study": self.study, "study_table": self.table, "variant": self.variant, "run_dir": self.run_dir,
                "family": family, "scale": scale, "task": self.task, "hierarchy": self.hierarchy,
                "seed": self.seed, "knobs_delta": self.delta, "train_delta": self.train,
                "default_model": self.is_default, "model_dir": self.model_dir, "session_dirs": self.session_dirs,
                "trained_model": self.trained,
                "peer": self.peer}


def job_folder(row: dict[str, Any], kind: str) -> str:
    """The folder of a run's ``kind`` result, from its index row (``Run.row``: studies.json, the aggregation): its
    training's, its architecture's or its scale's session of that kind ("" when that kind does not measure it)."""
    scope = JOB_KINDS[kind].scope
    if scope == "training":
        return row["run_dir"]
    if scope == "architecture":
        return row["model_dir"]
    return (row.get("session_dirs") or {}).get(kind, "")


# ------------------------------------------------------------------------------------------------ loading
def canonical_seed(seed: Any, source: Any, key: str) -> int:
    """A seed as an integer: 1.0 is the seed 1 (one training, one folder); 1.5 is refused."""
    if isinstance(seed, bool) or not isinstance(seed, (int, float)) or float(seed) != int(seed):
        raise StudyError(f"seed {seed!r} is not an integer", file=source, key=key, allowed="integers, e.g. 0, 1, 2")
    return int(seed)


def load_study(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    data = load_yaml(path, "study file")
    if not isinstance(data, dict):
        raise StudyError("expected a mapping with keys study, table, title, variants", file=path)
    schemas.validate(data, schemas.study_schema(), path, StudyError)
    if data["study"] != path.stem:  # keeps '<ablations_dir>/<study>.yaml' the one place a study is defined
        raise StudyError(f"= {data['study']!r} must equal the file name", file=path, key="study",
                         allowed=[path.stem])
    return data


def study_files(names: list[str], directory: str | Path, source: str | None = None) -> list[Path]:
    """The study files named (``["all"]``: every one); ``source`` (the config file) is named in errors."""
    directory = Path(directory)
    if not directory.is_dir():
        raise StudyError("the ablations folder does not exist", file=directory, key="ablations_dir")
    available = {p.stem: p for p in sorted(directory.glob("*.yaml"))}
    if not available:
        raise StudyError("the ablations folder holds no <study>.yaml file", file=directory, key="ablations_dir")
    if names == ["all"]:
        return list(available.values())
    unknown = [n for n in names if n not in available]
    if unknown:
        raise StudyError(f"unknown study {unknown} in {directory}", file=source, key="studies",
                         allowed=["all", *available])
    return [available[n] for n in names]


def _peers(study: dict[str, Any], path: Path, scales: list[str]) -> list[Run]:
    from .. import peers

    if study["peers"] not in {t for p in peers.peer_table() for t in p["tables"]}:
        raise StudyError(f"{study['peers']!r} is not a paper table with peers", file=path, key="peers",
                         allowed=sorted({t for p in peers.peer_table() for t in p["tables"]}))
    measure = tuple(k for k in JOB_KINDS if k in study["measure"] and not JOB_KINDS[k].per_training)
    return [Run(study["study"], study["table"], name, "peer", "detect", "full", peers.size_class(name), 0, {}, {},
                {}, measure, str(path), peer=name)
            for name in peers.peers(study["peers"]) if peers.size_class(name) in scales]


def _expand(study: dict[str, Any], path: Path, scales: list[str], seeds: list[int], opt_in: set[str],
            baseline_seeds: list[int] | None = None) -> list[Run]:
    if study.get("opt_in") not in (None, *opt_in):
        return []
    runs = _peers(study, path, scales) if study.get("peers") else []
    for name, delta in (study.get("variants") or {}).items():
        if isinstance(name, bool):  # YAML 1.1: an unquoted off / on / yes / no key is a boolean, not a name
            raise StudyError(f"variant name {name!r} is a YAML boolean (an unquoted off, on, yes or no)", file=path,
                             key=f"variants.{name}", allowed="the name in quotes, e.g. 'off':")
        delta = delta or {}
        if (delta.get("opt_in") or study.get("opt_in")) not in (None, *opt_in):
            continue
        family = delta.get("family", study["family"])
        task = delta.get("task", study["task"])
        hierarchy = delta.get("hierarchy", study["hierarchy"])
        measure = tuple(k for k in JOB_KINDS if k in delta.get("measure", study["measure"]))
        for scale in (s for s in delta.get("scales", study["scales"]) if s in scales):
            try:
                knobs = canonical_knobs(family, scale, task, hierarchy, delta.get("knobs") or {})
            except UserError as e:
                key = f"variants.{name}.knobs" + (f".{e.key.split('.')[-1]}" if e.key else "")
                raise StudyError(e.what, file=path, key=key, allowed=e.allowed) from None
            diff, train = knob_delta(family, scale, task, hierarchy, knobs), dict(delta.get("train") or {})
            default_model = not diff and not train and hierarchy == "full"
            for seed in delta.get("seeds", study.get("seeds", baseline_seeds if default_model and baseline_seeds
                                                     else seeds)):
                seed = canonical_seed(seed, path, f"variants.{name}.seeds")
                runs.append(Run(study["study"], study["table"], str(name), family, task, hierarchy, scale, seed,
                                knobs, diff, train, measure, str(path)))
    return runs


def all_runs(names: list[str], scales: list[str], directory: str | Path, seeds: list[int] | None = None,
             opt_in: list[str] | None = None, source: str | None = None,
             baseline_seeds: list[int] | None = None) -> list[Run]:
    """Every run of the named studies (``["all"]``: every study file), restricted to ``scales``."""
    runs = []
    for path in study_files(names, directory, source):
        runs.extend(_expand(load_study(path), path, scales, seeds or [0], set(opt_in or []), baseline_seeds))
    return runs


def studies_index(names: list[str], directory: str | Path, runs: list[Run]) -> list[dict[str, Any]]:
    """Each study with its title, table, baseline and variants' deltas (the report's generic tables read this)."""
    out = []
    for path in study_files(names, directory):
        data = load_study(path)
        mine = [r for r in runs if r.study == data["study"]]
        if not mine:
            continue
        variants, seen = [], set()
        for r in mine:
            if r.variant in seen:
                continue
            seen.add(r.variant)
            raw = (data.get("variants") or {}).get(r.variant) or {}
            variants.append({"variant": r.variant, "knobs_delta": r.delta, "train_delta": r.train,
                             "family": r.family, "task": r.task, "hierarchy": r.hierarchy, "peer": r.peer,
                             "note": raw.get("note", "")})
        out.append({"study": data["study"], "table": data["table"], "title": data["title"], "file": str(path),
                    "task": data["task"], "tasks": sorted({r.task for r in mine}),
                    "scales": sorted({r.scale for r in mine}, key=_scale_order),
                    "seeds": sorted({r.seed for r in mine}), "baseline": baseline_variant(data, mine),
                    "baselines": {scale: baseline_variant(data, [r for r in mine if r.scale == scale])
                                  for scale in sorted({r.scale for r in mine}, key=_scale_order)},
                    "variants": variants})
    return out


def _scale_order(scale: str) -> int:
    return SCALES.index(scale)


def baseline_variant(study: dict[str, Any], runs: list[Run]) -> str | None:
    """The variant deltas are taken against: the study's ``baseline`` key, else its one default-model variant
    (per scale: Table 2's default is 'reaggregation' at N and 'residual_0.01' at L/X; a ``baseline`` key that does
    not exist at a scale falls back to the default-model variant there)."""
    if study.get("baseline") and any(r.variant == study["baseline"] for r in runs):
        return study["baseline"]
    defaults = sorted({r.variant for r in runs if r.is_default})
    return defaults[0] if len(defaults) == 1 else None


def by_run_dir(runs: list[Run]) -> dict[str, list[Run]]:
    """Unique run directories, each with the (study, variant) rows that use it."""
    out: dict[str, list[Run]] = {}
    for run in runs:
        out.setdefault(run.run_dir, []).append(run)
    return out
