"""Studies are data: ``ablations/<study>.yaml`` files, each variant a delta on the defaults.

A *run* is one (variant, scale) of a study, resolved to everything that determines its result: family, task,
hierarchy, scale, the full knob set and the training overrides. Its directory name (``variant_dir``) is derived from
that resolved content, so

- runs that are the same model and recipe share one directory (a study's baseline is trained once for all studies),
- editing one variant changes only its directory, so only its jobs rerun,
- renaming a variant or moving it to another study reruns nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from ..models import model_yaml
from ..nn.knobs import Knobs

ABLATIONS_DIR = Path(__file__).resolve().parents[2] / "ablations"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "workflows" / "schemas"
KINDS = ("train", "evaluate", "complexity", "latency", "export")
LARGE = ("l", "x")


class StudyError(ValueError):
    """A study file is malformed; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class Run:
    study: str
    table: str
    variant: str
    family: str
    task: str
    hierarchy: str
    scale: str
    knobs: dict[str, Any]  # every knob, resolved (see canonical_knobs)
    train: dict[str, Any]  # train overrides of the variant
    measure: tuple[str, ...]

    @property
    def identity(self) -> dict[str, Any]:
        """What determines the run's results (not its study or variant name)."""
        return {"family": self.family, "task": self.task, "hierarchy": self.hierarchy, "scale": self.scale,
                "knobs": self.knobs, "train": self.train}

    @property
    def variant_dir(self) -> str:
        digest = hashlib.sha1(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.family.replace('yolov12', 'yolov12' + self.scale)}-{self.task}-{self.hierarchy}-{digest}"

    @property
    def baseline(self) -> bool:
        """The paper's default for this scale: default knobs, family, hierarchy and recipe."""
        default = canonical_knobs(self.family, self.scale, self.task, self.hierarchy, {})
        return self.knobs == default and not self.train and self.hierarchy == "full"

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "variant_dir": self.variant_dir, "baseline": self.baseline}


def canonical_knobs(family: str, scale: str, task: str, hierarchy: str, knobs: dict[str, Any]) -> dict[str, Any]:
    """All knobs with the 'use the definition's value' spellings made explicit, so equal models compare equal.

    residual 'auto' is on for L/X (the parser's rule), mlp_ratio None is the parser default (2.0; 1.2 for L/X), and
    area None is the definition's l = 4.
    """
    k = Knobs.from_mapping(model_yaml(family, scale, task, hierarchy, **knobs)["knobs"]).as_dict()
    if k["residual"] == "auto":
        k["residual"] = "on" if scale in LARGE else "off"
    if k["mlp_ratio"] is None:
        k["mlp_ratio"] = 1.2 if scale in LARGE else 2.0
    if k["area"] is None:
        k["area"] = 4
    return k


def validate_study(data: dict[str, Any], path: Path) -> dict[str, Any]:
    from snakemake.utils import validate

    try:
        validate(data, str(SCHEMA_DIR / "study.schema.yaml"), set_default=True)
    except Exception as e:  # snakemake wraps jsonschema's error; keep its message, name the file
        raise StudyError(f"{path}: {e}") from None
    if data["study"] != path.stem:  # keeps 'ablations/<study>.yaml' the one place a study is defined
        raise StudyError(f"{path}: key 'study' = {data['study']!r} must equal the file name {path.stem!r}")
    return data


def load_study(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise StudyError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise StudyError(f"{path}: expected a mapping with keys study, table, title, variants")
    return validate_study(data, path)


def study_files(names: list[str] | None = None, directory: Path = ABLATIONS_DIR) -> list[Path]:
    available = {p.stem: p for p in sorted(directory.glob("*.yaml"))}
    if not names or names == ["all"]:
        return list(available.values())
    unknown = [n for n in names if n not in available]
    if unknown:
        raise StudyError(f"config key 'studies': unknown study {unknown}; available: {sorted(available)}")
    return [available[n] for n in names]


def resolve_runs(study: dict[str, Any], allowed_scales: list[str] | None = None) -> list[Run]:
    runs = []
    for name, delta in study["variants"].items():
        delta = delta or {}
        family = delta.get("family", study["family"])
        task = delta.get("task", study["task"])
        hierarchy = delta.get("hierarchy", study["hierarchy"])
        scales = [s for s in delta.get("scales", study["scales"]) if not allowed_scales or s in allowed_scales]
        for scale in scales:
            try:
                knobs = canonical_knobs(family, scale, task, hierarchy, delta.get("knobs") or {})
            except ValueError as e:
                raise StudyError(f"ablations/{study['study']}.yaml: variant '{name}': {e}") from None
            runs.append(Run(study["study"], study["table"], str(name), family, task, hierarchy, scale, knobs,
                            dict(delta.get("train") or {}), tuple(study["measure"])))
    return runs


def all_runs(names: list[str] | None = None, allowed_scales: list[str] | None = None,
             directory: Path = ABLATIONS_DIR) -> list[Run]:
    runs = []
    for path in study_files(names, directory):
        runs.extend(resolve_runs(load_study(path), allowed_scales))
    return runs


def by_variant_dir(runs: list[Run]) -> dict[str, list[Run]]:
    """Unique run directories, each with the (study, variant) rows that use it."""
    out: dict[str, list[Run]] = {}
    for run in runs:
        out.setdefault(run.variant_dir, []).append(run)
    return out
