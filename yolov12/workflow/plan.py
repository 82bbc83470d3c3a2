"""The workflow's plan: a validated config resolved into runs, run directories, and each job's spec and resources.

Pure and light: reads the config, the study files and the model definitions; imports neither torch nor
Ultralytics and writes nothing (but the dataset fingerprint cache under ``.snakemake/``). The Snakefile builds one
``Plan`` at parse time; each job gets its IDENTITY (``yolov12.workflow.identity``, docs/identity.md) as its one
Snakemake ``param``, so a changed identity, and only that, reruns the job; where it runs (paths, devices, the
MLflow store) it learns from its command line. The aggregation rebuilds the same plan from the config to index
the results.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..registry import JOB_KINDS, PAPER_NC, REAL_DATA, TASK_TABLE
from . import artifacts, checks, identity, kinds, schemas, studies, tracking
# data_path: the plan's inverse, used by the jobs
from .placement import SYNTHETIC_MANIFEST, data_path, device_string  # noqa: F401

# what the aggregation writes into results/<config>/ besides each kind's tables (docs/results-schema.md)
AGGREGATED = ("deltas.csv", "jobs.csv", "studies.json", "config.json")


def validate_config(config: dict[str, Any], source: str) -> dict[str, Any]:
    """The config checked against the schema (defaults filled in) and against what can be known before a job."""
    if "synthetic" in config:  # one key says what the data are: data.kind (the plan, the rules and the report read it)
        raise UserError("is no longer a key: the data's kind says whether they are synthetic", file=source,
                        key="synthetic", allowed="data.kind: synthetic or real")
    config = schemas.validate(config, schemas.config_schema(), source)
    checks.check_train_keys(config, source)
    return config


@dataclasses.dataclass
class Plan:
    config: dict[str, Any]
    source: str  # the config file(s), for messages
    ablations_dir: Path
    tracking_override: str | None = None  # the aggregation's store, as the store rule recorded it

    # ------------------------------------------------------------------------------------------ runs
    @cached_property
    def runs(self) -> list[studies.Run]:
        c = self.config
        runs = studies.all_runs(c["studies"], c["scales"], self.ablations_dir, c["seeds"], c["opt_in"], self.source,
                                c["baseline_seeds"])
        if not runs:
            raise UserError("no run left: the studies' scales and opt-in groups select nothing", file=self.source,
                            key="scales/opt_in", allowed="a scale a study lists; opt_in names its studies use")
        timed = c["latency"]["studies"]
        if "all" not in timed:  # time only these studies' cells (a budget: the others keep their other measurements)
            known = sorted({r.study for r in runs})
            unknown = [s for s in timed if s not in known]
            if unknown:
                raise UserError(f"names {unknown}, not a study of this config", file=self.source,
                                key="latency.studies", allowed=["all", *known])
            runs = [r if r.study in timed else
                    dataclasses.replace(r, measure=tuple(k for k in r.measure if k != "latency")) for r in runs]
        runs = [dataclasses.replace(r, run_dir=self.train_dir(r), model_dir=self.arch_dir(r),
                                    trained=identity.digest({**self.train_identity(r), "args": {
                                        **self.train_identity(r)["args"], "seed": None}}))
                for r in runs]
        folders = {kind: {scale: self._session_folder(kind, scale, ident) for scale, ident in by_scale.items()}
                   for kind, by_scale in self._session_identities(runs).items()}
        return [dataclasses.replace(r, session_dirs={k: folders[k][r.scale] for k in r.measure if k in folders})
                for r in runs]

    def _session_folder(self, kind: str, scale: str, ident: dict[str, Any]) -> str:
        """runs/<prefix>-<scale>-<digest>/: a session kind's folder, named by the session's whole identity."""
        folder = identity.directory(f"{JOB_KINDS[kind].session_prefix}-{scale}", ident)
        self._sessions[folder] = ident
        return folder

    def _session_identities(self, runs: list[studies.Run]) -> dict[str, dict[str, dict[str, Any]]]:
        """Per session kind and scale, the session's identity: every distinct architecture that kind measures at
        that scale (each once, whichever studies share it; sorted by folder) and the kind's settings."""
        self._sessions: dict[str, dict[str, Any]] = {}
        lat, self.session_runs = self.config["latency"], runs
        self.timed_runtimes = artifacts.timed_runtimes(lat, runs, self.source)  # each architecture's runtimes
        self._timed_files = {d: artifacts.files_of(lat, rts) for d, rts in self.timed_runtimes.items()}
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for kind in (k for k, job in JOB_KINDS.items() if job.session):
            cells: dict[str, dict[str, dict]] = {}
            for r in runs:
                if kind in r.measure:
                    cells.setdefault(r.scale, {})[r.model_dir] = self._session_cell(kind, r)
            out[kind] = {scale: identity.canonical({"job": kind, "cells": [by_dir[d] for d in sorted(by_dir)],
                                                     kind: kinds.of(kind).settings(self)})
                         for scale, by_dir in cells.items()}
        return out

    def _session_cell(self, kind: str, run: studies.Run) -> dict[str, Any]:
        """One architecture in its scale's session of ``kind``: its model, and its folder (the key its record in the
        session's result is found by), and what the kind adds (``kinds.<kind>.cell``)."""
        return {"model": self.arch_identity(run)["model"], "model_dir": run.model_dir,
                **kinds.hook(kind, "cell", lambda plan, run: {})(self, run)}

    def check(self) -> None:
        """What can be known before the first job: train overrides, model shapes at every size they run at."""
        checks.check_selection(self)  # badinput: names, opt_in, baseline, tracking URI (before the runs expand)
        checks.check_runs(self, self.runs)  # badinput: the data folders a real-data config needs
        for run in self.runs:
            checks.check_overrides(run, self.source)
        checks.check_shapes(self, self.runs)

    @cached_property
    def groups(self) -> dict[str, list[studies.Run]]:
        """Run directories, each with the rows that use it: a training's folder (its training and evaluation), an
        architecture's folder (export: one per architecture, whatever the recipe or seed) and a session folder per
        session kind and scale (complexity, latency: every architecture of that scale; JobKind.scope)."""
        groups: dict[str, list[studies.Run]] = {}
        for run in self.runs:
            for folder in dict.fromkeys(run.folder(k) for k in self.measured(run)):
                groups.setdefault(folder, []).append(run)
        return groups

    @cached_property
    def _kinds(self) -> dict[str, tuple[str, ...]]:
        wanted: dict[str, set[str]] = {d: set() for d in self.groups}
        for run in self.runs:
            for kind in self.measured(run):
                target = run.folder(kind)
                wanted[target].add(kind)
                wanted[target].update(JOB_KINDS[kind].after)
        return {d: tuple(k for k in JOB_KINDS if k in ks) for d, ks in wanted.items()}

    def measured(self, run: studies.Run) -> tuple[str, ...]:
        """A run's kinds, plus the export of the files its timing cells time (derived: nobody lists it)."""
        return run.measure + (("export",) if "export" not in run.measure and "latency" in run.measure
                              and self.timed_files.get(run.model_dir) else ())

    @property
    def timed_files(self) -> dict[str, list[dict[str, str]]]:
        """Per architecture folder, the exported files its timing cells time (yolov12.workflow.artifacts)."""
        return self.runs and self._timed_files  # computed with the timing sessions

    @cached_property
    def _architecture_kinds(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for run in self.runs:
            out.setdefault(run.model_dir, set()).update(k for k in self.measured(run) if not JOB_KINDS[k].per_training)
        return out

    def architecture_kinds(self, model_dir: str) -> set[str]:
        """The kinds measuring an architecture (in its own folder or in its scale's sessions), over every run of it."""
        return self._architecture_kinds.get(model_dir, set())

    @property
    def name(self) -> str:
        return self.config["name"]

    @property
    def results(self) -> str:
        """results/<name>, relative to the working directory (as Snakemake's targets are)."""
        return f"results/{self.name}"

    def kinds(self, run_dir: str) -> tuple[str, ...]:
        """Job kinds a run directory needs: the union over the studies that use it, plus what those read."""
        return self._kinds.get(run_dir, ())

    def run_dirs(self, kind: str) -> list[str]:
        return [d for d in sorted(self.groups) if kind in self.kinds(d)]

    def result_path(self, kind: str, run_dir: str) -> str:
        return f"{self.results}/runs/{run_dir}/{JOB_KINDS[kind].result}"

    def outputs(self, kind: str) -> list[str]:
        return [self.result_path(kind, d) for d in self.run_dirs(kind)]

    def job_inputs(self, kind: str, run_dir: str, store: str) -> dict[str, str]:
        """What a job reads: the MLflow store (its URI), the results of the kinds it follows, and what its kind
        reads besides (``kinds.<kind>.inputs``: its data, the training an export carries, ...)."""
        reads = kinds.hook(kind, "inputs")
        return {"store": store, **(reads(self, run_dir) if reads else {}),
                **{before: self.result_path(before, run_dir) for before in JOB_KINDS[kind].after}}

    def exported_training(self, run_dir: str, runs: list[studies.Run] | None = None) -> studies.Run | None:
        """The training whose weights an architecture's export carries, so that the exported file's accuracy
        means something (yolov12.evaluate.artifact): of the trainings of that architecture, the lowest seed, then
        the first folder by name; None when the plan trains none (the export then carries seeded weights)."""
        trained = [r for r in (self.runs if runs is None else runs) if r.model_dir == run_dir and "train" in r.measure]
        return min(trained, key=lambda r: (r.seed, r.run_dir)) if trained else None

    def damaged_weights(self, kind: str, run_dir: str) -> dict[str, str]:
        """A training's damage markers as its inputs. When its weights are not what its result recorded (gone,
        truncated, replaced: their size or modification time differs), a new marker ``weights.damaged.<digest of
        what was found>`` joins them: its rule removes the checkpoints and the training, then everything after it,
        reruns. Markers made earlier stay inputs (the set of inputs Snakemake compares is then the same at the next
        invocation). Read at parse time: noticed at the next invocation, before any job."""
        if kind != "train":
            return {}
        folder = Path(self.results) / "runs" / run_dir
        markers = sorted(p.name for p in folder.glob("weights.damaged.*")) if folder.is_dir() else []
        try:
            weights = json.loads((folder / JOB_KINDS["train"].result).read_text()).get("weights") or {}
        except (OSError, ValueError):
            weights = {}
        if weights.get("path"):
            try:
                st = (folder / weights["path"]).stat()
                found = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
            except OSError:
                found = {"missing": True}
            if found != {"bytes": weights["bytes"], "mtime_ns": weights["mtime_ns"]}:
                markers.append(f"weights.damaged.{identity.digest({**found, 'recorded': weights})}")
        return {f"damaged{i}": f"{self.results}/runs/{run_dir}/{m}" for i, m in enumerate(dict.fromkeys(markers))}

    def benchmarks(self) -> list[str]:
        return [f"{self.results}/benchmarks/{kind}/{d}.tsv" for kind in JOB_KINDS for d in self.run_dirs(kind)]

    def aggregated(self) -> list[str]:
        return [f"{self.results}/{name}" for name in (*kinds.tables().values(), *AGGREGATED)]

    def rebuild_inputs(self) -> list[str]:
        """``.rebuild`` when one of the results an aggregation was made from is gone (it is then remade). A result
        the aggregation never had (a new identity's folder) needs none: its job runs and the aggregation follows."""
        import csv

        jobs_csv = f"{self.results}/jobs.csv"
        if not os.path.exists(jobs_csv):
            return []
        with open(jobs_csv, newline="") as f:
            had = {(row["kind"], row["run_dir"]) for row in csv.DictReader(f)}
        gone = any((kind, d) in had and not os.path.exists(self.result_path(kind, d))
                   for kind in JOB_KINDS for d in self.run_dirs(kind))
        return [f"{self.results}/.rebuild"] if gone else []

    def config_json(self) -> str:
        return json.dumps(self.config, sort_keys=True, separators=(",", ":"))

    def aggregate_config_json(self) -> str:
        """The config the aggregation rebuilds the plan from, canonical, without what no aggregated number depends
        on (resources, the tracking URI: it gets the store from the store rule's marker)."""
        config = {k: v for k, v in self.config.items() if k != "resources"}
        config["mlflow"] = {**config.get("mlflow", {}), "tracking_uri": None}
        return identity.dumps(config)

    def labels_digest(self) -> str:
        """The labels the aggregation writes (study and variant names, titles, notes, tables): a param of the
        aggregation only, so renaming a variant or editing a note reruns the aggregation and the report, nothing
        else."""
        index = self.index()
        return identity.digest({"rows": index["rows"],
                                "studies": [{k: v for k, v in s.items() if k != "file"} for s in index["studies"]]})

    def synth_options(self) -> str:
        s = self.config["data"]["synthetic"]
        return " ".join([f"--n-train {s['n_train']} --n-val {s['n_val']} --imgsz {s['imgsz']} --nc {s['nc']}",
                         f"--max-objects {s['max_objects']} --seed {s['seed']}"]
                        + ([f"--height {s['height']}"] if s["height"] else []))

    # ------------------------------------------------------------------------------------------ resources
    def resources(self, kind: str) -> dict[str, int]:
        """The registry's default resources of ``kind``, the config's ``resources.<kind>`` over them, and what the
        kind itself corrects (``kinds.<kind>.resources``: a CPU-only timing matrix holds no GPU, ...)."""
        res = {**JOB_KINDS[kind].resources, **(self.config["resources"].get(kind) or {})}
        adjust = kinds.hook(kind, "resources")
        return adjust(self, res) if adjust else res

    def snakemake_resources(self, kind: str) -> dict[str, Any]:
        """Snakemake's names: gpu and cpus_per_task (local limits, SLURM requests), mem_mb, runtime (minutes)."""
        res = self.resources(kind)
        out = {"gpu": res["gpus"], "mem_mb": res["mem_mb"], "runtime": res["runtime"], "cpus_per_task": res["cpus"]}
        if JOB_KINDS[kind].timing:
            out["slurm_extra"] = "'--exclusive'"  # a timing job gets a node of its own on a cluster
        return out

    def device(self, kind: str) -> str:
        """The Ultralytics device string of a job: its own devices, numbered from 0 (docs/cluster.md)."""
        return device_string(self.resources(kind)["gpus"])

    # ------------------------------------------------------------------------------------------ data
    def dataset(self, task: str) -> dict[str, Any]:
        """Where a task's data live (relative paths): the manifest a data rule makes, the path to train on, nc."""
        data, res, row = self.config["data"], self.results, TASK_TABLE[task]
        if data["kind"] == "synthetic":
            manifest = f"{res}/data/{task}/{SYNTHETIC_MANIFEST}"
            return {"manifest": manifest, "data": data_path(manifest, task),
                    "nc": 1 if row.keypoints else data["synthetic"]["nc"]}
        real = REAL_DATA[row.real_data]
        root = data[real.root_key] if real.in_place else f"{res}/data/{real.name}"
        if not root:  # prepared in place (DOTA): no folder, no dataset
            raise UserError(f"a {task} study needs the {real.name} dataset", file=self.source,
                            key=f"data.{real.root_key}", allowed=f"the folder of {real.name} (docs/data.md)")
        manifest = f"{root}/{real.manifest}"
        return {"manifest": manifest, "data": data_path(manifest, task), "nc": row.paper_nc}

    def dataset_identity(self, task: str) -> dict[str, Any]:
        """The data by what it holds: the generator's spec (synthetic), else annotation checksums and image counts."""
        data = self.config["data"]
        if data["kind"] == "synthetic":
            return {"synthetic": data["synthetic"], "task": task}
        row = TASK_TABLE[task]
        real = REAL_DATA[row.real_data]
        stem = row.coco_annotations if real.name == "coco" else None  # COCO: the task's own annotation files
        files = [f"annotations/{stem}_{s}2017.json" for s in ("train", "val")] if stem else []
        return identity.real_dataset(real.name, data[real.root_key], files, list(real.folders))

    # ------------------------------------------------------------------------------------------ identities
    def train_args(self, run: studies.Run) -> dict[str, Any]:
        """Ultralytics train arguments: recipe <- per-scale <- per-task <- the variant's overrides <- seed. The
        device is not here: the job sets it from the devices it holds."""
        t = self.config["train"]
        overrides = {k: v for k, v in run.train.items() if k not in checks.OURS}
        args = {"epochs": t["epochs"], "imgsz": t["imgsz"], "batch": t["batch"], "workers": t["workers"]}
        args.update(t["recipe"])
        args.update(t["per_scale"].get(run.scale) or {})
        args.update(t["per_task"].get(run.task) or {})
        args.update(overrides)
        args["epochs"] = max(1, round(args["epochs"] * run.train.get("epochs_scale", 1.0)))
        args["seed"] = run.seed
        return args

    def architecture(self, run: studies.Run, nc: int) -> dict[str, Any]:
        """The model: its definition and the knobs that differ from the definition's resolved defaults at its
        scale (so a new knob with a neutral default changes no identity; building from these gives the model)."""
        return {"family": run.family, "scale": run.scale, "task": run.task, "hierarchy": run.hierarchy,
                "knobs": run.delta, "nc": nc, **({"peer": run.peer} if run.peer else {})}

    def train_identity(self, run: studies.Run) -> dict[str, Any]:
        return identity.canonical({
            "job": "train", "model": self.architecture(run, self.dataset(run.task)["nc"]),
            "args": self.train_args(run), "dataset": self.dataset_identity(run.task),
            "max_loss": run.train.get("max_loss", self.config["train"]["max_loss"])})

    def arch_identity(self, run: studies.Run) -> dict[str, Any]:
        # architecture measurements use the paper's datasets' class counts, whatever data this config trains on
        return identity.canonical({"model": self.architecture(run, PAPER_NC[run.task])})

    def train_dir(self, run: studies.Run) -> str:
        return identity.directory(f"{run.model_name}-s{identity.canonical(run.seed)}", self.train_identity(run))

    def arch_dir(self, run: studies.Run) -> str:
        return identity.directory(f"{run.model_name}-arch", self.arch_identity(run))

    def identity(self, kind: str, run_dir: str) -> dict[str, Any]:
        """Everything that determines the job's result, and nothing else: no study or variant name, no path, no
        resource, no tracking URI (docs/identity.md)."""
        if JOB_KINDS[kind].session:  # every architecture of its scale (Plan._session_identities)
            return self._sessions[run_dir]
        return kinds.of(kind).identity(self, run_dir)

    def jobs_digest(self) -> str:
        """The digest of every job's identity: what a whole-workflow product (the cost prediction) reruns on."""
        return identity.digest({k: {d: self.identity(k, d) for d in self.run_dirs(k)} for k in JOB_KINDS})

    def spec(self, kind: str, run_dir: str) -> dict[str, Any]:
        """The identity with where the job runs added as the job adds it (this config's resources, its store):
        what ``yolov12 workflow run KIND --spec`` takes outside Snakemake (tests, a job run by hand)."""
        from .jobs import with_context

        out = Path(self.result_path(kind, run_dir))
        inputs = self.job_inputs(kind, run_dir, "")
        spec = with_context(kind, self.identity(kind, run_dir), out, None, self.resources(kind)["gpus"],
                            inputs.get("data"), inputs.get("train"))
        spec["mlflow"] = {"uri": self.tracking_uri}
        return spec

    def spec_json(self, kind: str, run_dir: str) -> str:
        return json.dumps(self.spec(kind, run_dir), sort_keys=True, separators=(",", ":"))

    def identity_json(self, kind: str, run_dir: str) -> str:
        return identity.dumps(self.identity(kind, run_dir))

    def eval_imgsz(self, run: studies.Run) -> int:
        return int(self.train_args(run)["imgsz"])  # badinput: recipe, per-scale and variant imgsz count too

    @property
    def tracking_uri(self) -> str:
        if self.tracking_override:
            return self.tracking_override
        return tracking.tracking_uri(self.results, self.config["mlflow"]["tracking_uri"])

    # ------------------------------------------------------------------------------------------ index
    def index(self) -> dict[str, Any]:
        """The study -> run directory index the aggregation reads (studies.json, the rows of every CSV)."""
        rows = [r.row() for r in self.runs]
        return {"rows": rows, "studies": studies.studies_index(self.config["studies"], self.ablations_dir,
                                                              self.runs)}


def make_plan(config: dict[str, Any], source: str, workdir: str | Path = ".") -> Plan:
    """Validate ``config`` (from ``source``) and resolve it; a relative ``ablations_dir`` is relative to
    ``workdir`` (the folder the workflow runs in)."""
    config = validate_config(copy.deepcopy(config), source)
    ablations = Path(workdir, config["ablations_dir"])
    plan = Plan(config, source, ablations)
    plan.check()  # every study error surfaces at parse time
    return plan
