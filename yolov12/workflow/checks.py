"""What the workflow checks before the first job: Ultralytics train keys and the model shapes at every size where a
model will run. Light: reads Ultralytics' default.yaml as a file (without importing Ultralytics) and computes
shapes from the definitions (``yolov12.models.shapes``), without torch.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..registry import JOB_KINDS
from ..yamlio import load_yaml
from . import inputchecks, kinds

if TYPE_CHECKING:
    from .plan import Plan
    from .studies import Run

OURS = ("max_loss", "epochs_scale")  # train overrides the suite handles itself
SET_BY_THE_SUITE = ("data", "project", "name", "exist_ok", "resume", "model", "device", "seed")


@lru_cache(maxsize=1)
def ultralytics_train_keys() -> frozenset[str]:
    """The keys of Ultralytics' own configuration (ultralytics/cfg/default.yaml), read without importing it."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("Ultralytics is not installed", key="ultralytics", allowed="pip install -e .")
    path = Path(list(spec.submodule_search_locations)[0]) / "cfg" / "default.yaml"
    return frozenset(load_yaml(path, "Ultralytics default configuration"))


def _check_keys(args: dict[str, Any], source: str, key: str, ours: tuple[str, ...] = ()) -> None:
    allowed = ultralytics_train_keys()
    for name in args:
        if name in SET_BY_THE_SUITE:
            raise UserError("is set by the suite for every job, not by a recipe", file=source, key=f"{key}.{name}",
                            allowed="any other Ultralytics train argument")
        if name not in allowed and name not in ours:
            close = sorted(k for k in allowed if _near(name, k))
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UserError(f"is not an Ultralytics train argument{hint}", file=source, key=f"{key}.{name}",
                            allowed="the keys of ultralytics/cfg/default.yaml" + (f" or {', '.join(ours)}"
                                                                                   if ours else ""))


def _near(a: str, b: str) -> bool:
    """One edit apart (a typo such as 'nbss' for 'nbs')."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def check_train_keys(config: dict[str, Any], source: str) -> None:
    """Names, types and ranges of every train argument the config sets, and no NaN / infinity anywhere."""
    inputchecks.check_finite(config, source)
    train = config["train"]
    places = [("train.recipe", train["recipe"])]
    places += [(f"train.per_scale.{scale}", args) for scale, args in train["per_scale"].items()]
    places += [(f"train.per_task.{task}", args) for task, args in train["per_task"].items()]
    for key, args in places:
        if not isinstance(args, dict):
            raise UserError(f"{args!r} has the wrong type", file=source, key=key, allowed="a mapping of train arguments")
        _check_keys(args, source, key)
        inputchecks.check_train_values(args, source, key)


def check_overrides(run: Run, source: str) -> None:
    key = f"variants.{run.variant}.train"
    _check_keys(run.train, run.source, key, OURS)
    inputchecks.check_finite(run.train, run.source, key)
    inputchecks.check_train_values(run.train, run.source, key)


def check_selection(plan: Plan) -> None:
    """Before the runs are expanded: study names mixed with 'all', opt_in groups no study uses, a study's baseline
    that is not one of its variants, and the tracking URI (scheme and a short probe of its server)."""
    from . import studies

    c, folder = plan.config, plan.ablations_dir
    inputchecks.check_path_values(c, plan.source)
    inputchecks.check_study_names(c["studies"], folder, plan.source)
    selected = studies.study_files(c["studies"], folder, plan.source)
    groups: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path in selected:
            study = studies.load_study(path)
            inputchecks.check_baseline(study, path)
            inputchecks.check_finite(study, path)
            for name, delta in (study.get("variants") or {}).items():  # before the runs use them (identities)
                if isinstance(delta, dict) and isinstance(delta.get("train"), dict):
                    key = f"variants.{name}.train"
                    _check_keys(delta["train"], path, key, OURS)
                    inputchecks.check_train_values(delta["train"], path, key)
        else:  # a study not selected is read for its opt_in names only; its own errors surface when selected
            try:
                study = load_yaml(path, "study file")
            except UserError:
                continue
            if not isinstance(study, dict):
                continue
        for name in inputchecks.opt_in_groups(study):
            groups.setdefault(str(name), []).append(path.stem)
    plan.opt_in_groups = groups  # checked once the runs expanded: a study's own error is named first
    inputchecks.check_tracking_uri(c["mlflow"]["tracking_uri"], plan.source)


def check_runs(plan: Plan, runs: list[Run]) -> None:
    """After the runs are expanded: the data folders a real-data config needs for the tasks that run."""
    inputchecks.check_opt_in(plan.config["opt_in"], getattr(plan, "opt_in_groups", {}), plan.source)
    inputchecks.check_data_roots(plan.config["data"], {r.task for r in runs if not r.peer}, plan.source)


def model_sizes(plan: Plan, run: Run) -> dict[str, tuple[list[tuple[int, int]], tuple[str, str]]]:
    """Every (h, w) input the run's model will see, by use (train, rect-padded validation, latency, export,
    complexity: each kind's ``sizes``), with the (file, key) that set each size."""
    # its training's kinds, and every kind measuring its architecture (in the architecture's folder or in a session
    # of its scale), whichever run of that architecture asks for it
    wanted = {*plan.kinds(run.run_dir), *plan.architecture_kinds(run.model_dir)}
    out: dict[str, tuple[list[tuple[int, int]], tuple[str, str]]] = {}
    for kind in (k for k in JOB_KINDS if k in wanted):
        sizes = kinds.hook(kind, "sizes")
        if sizes:
            out.update(sizes(plan, run))
    return out


def check_shapes(plan: Plan, runs: list[Run]) -> None:
    """Area counts and head_dim against every size where each distinct model runs, from the definitions. A size
    no model of that family can take is the config's error; an area count or head_dim the sizes do not allow is the
    variant's (named by its study file)."""
    from ..models import shapes

    seen = set()
    for run in runs:
        if run.run_dir in seen or run.peer:  # a peer is Ultralytics' own model: nothing of ours to check
            continue
        seen.add(run.run_dir)
        for use, (sizes, (file, key)) in model_sizes(plan, run).items():
            try:
                shapes.check_model(run.family, run.scale, run.task, run.hierarchy, run.knobs, {use: sizes},
                                   where=f"{run.source}: variants.{run.variant} (scale {run.scale})")
            except UserError as e:
                if "max stride" not in e.what:
                    raise
                raise UserError(e.what, file=file, key=key, allowed=e.allowed) from None
