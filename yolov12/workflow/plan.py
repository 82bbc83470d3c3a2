"""The workflow's plan: a validated config resolved into runs, run directories, and each job's spec and resources.

Pure and light: reads the config, the study files and the model definitions; imports neither torch nor
Ultralytics and writes nothing. The Snakefile builds one ``Plan`` at parse time; each job gets its spec as a
Snakemake ``param`` (so a changed spec, and only that, reruns the job); the aggregation rebuilds the same plan from
the config to index the results.
"""

from __future__ import annotations

import dataclasses
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..registry import JOB_KINDS, PAPER_NC
from . import checks, schemas, studies, tracking

# what the aggregation writes into results/<config>/ (docs/results-schema.md)
AGGREGATED = ("accuracy.csv", "deltas.csv", "complexity.csv", "latency.csv", "latency_samples.csv.gz", "curves.csv",
              "jobs.csv", "studies.json", "config.json")


def validate_config(config: dict[str, Any], source: str) -> dict[str, Any]:
    """The config checked against the schema (defaults filled in) and against what can be known before a job."""
    config = schemas.validate(config, schemas.config_schema(), source)
    checks.check_train_keys(config, source)
    return config


@dataclasses.dataclass
class Plan:
    config: dict[str, Any]
    source: str  # the config file(s), for messages
    ablations_dir: Path

    # ------------------------------------------------------------------------------------------ runs
    @cached_property
    def runs(self) -> list[studies.Run]:
        c = self.config
        runs = studies.all_runs(c["studies"], c["scales"], self.ablations_dir, c["seeds"], c["opt_in"], self.source,
                                c["baseline_seeds"])
        if not runs:
            raise UserError("no run left: the studies' scales and opt-in groups select nothing", file=self.source,
                            key="scales/opt_in", allowed="a scale a study lists; opt_in names its studies use")
        return runs

    def check(self) -> None:
        """What can be known before the first job: train overrides, model shapes at every size they run at."""
        for run in self.runs:
            checks.check_overrides(run, self.source)
        checks.check_shapes(self, self.runs)

    @cached_property
    def groups(self) -> dict[str, list[studies.Run]]:
        """Run directories, each with the rows that use it; a seed-0 folder also for rows of other seeds, which
        take their seed-independent measurements (complexity, latency) from it."""
        groups = studies.by_run_dir(self.runs)
        for run in self.runs:
            if run.seed and run.model_dir not in groups:
                groups[run.model_dir] = [dataclasses.replace(run, seed=0)]
        return groups

    @cached_property
    def _kinds(self) -> dict[str, tuple[str, ...]]:
        wanted: dict[str, set[str]] = {d: set() for d in self.groups}
        for run in self.runs:
            for kind in run.measure:
                job = JOB_KINDS[kind]
                target = run.run_dir if job.per_seed else run.model_dir
                wanted[target].add(kind)
                wanted[target].update(JOB_KINDS[kind].after)
        return {d: tuple(k for k in JOB_KINDS if k in ks) for d, ks in wanted.items()}

    @property
    def name(self) -> str:
        return self.config["name"]

    @property
    def results(self) -> str:
        """results/<name>, relative to the working directory (as Snakemake's targets are)."""
        return f"results/{self.name}"

    def kinds(self, run_dir: str) -> tuple[str, ...]:
        """Job kinds a run directory needs: the union over the studies that use it, plus what those read;
        seed-independent kinds only in the seed-0 folder."""
        return self._kinds[run_dir]

    def run_dirs(self, kind: str) -> list[str]:
        return [d for d in sorted(self.groups) if kind in self.kinds(d)]

    def result_path(self, kind: str, run_dir: str) -> str:
        return f"{self.results}/runs/{run_dir}/{JOB_KINDS[kind].result}"

    def outputs(self, kind: str) -> list[str]:
        return [self.result_path(kind, d) for d in self.run_dirs(kind)]

    def job_inputs(self, kind: str, run_dir: str, store: str) -> dict[str, str]:
        """What a job reads: the MLflow store, its data (train, evaluate), the results of the kinds it follows."""
        inputs = {"store": store}
        if kind in ("train", "evaluate", "export"):
            inputs["data"] = self.dataset(self.groups[run_dir][0].task)["manifest"]
        for before in JOB_KINDS[kind].after:
            inputs[before] = self.result_path(before, run_dir)
        return inputs

    def benchmarks(self) -> list[str]:
        return [f"{self.results}/benchmarks/{kind}/{d}.tsv" for kind in JOB_KINDS for d in self.run_dirs(kind)]

    def aggregated(self) -> list[str]:
        return [f"{self.results}/{name}" for name in AGGREGATED]

    def rebuild_inputs(self) -> list[str]:
        """``.rebuild`` when an aggregation exists but one of its job results is gone (it is then remade)."""
        made = os.path.exists(self.aggregated()[0])
        missing = not all(os.path.exists(p) for kind in JOB_KINDS for p in self.outputs(kind))
        return [f"{self.results}/.rebuild"] if made and missing else []

    def config_json(self) -> str:
        return json.dumps(self.config, sort_keys=True, separators=(",", ":"))

    def synth_options(self) -> str:
        s = self.config["data"]["synthetic"]
        return " ".join([f"--n-train {s['n_train']} --n-val {s['n_val']} --imgsz {s['imgsz']} --nc {s['nc']}",
                         f"--max-objects {s['max_objects']} --seed {s['seed']}"]
                        + ([f"--height {s['height']}"] if s["height"] else []))

    # ------------------------------------------------------------------------------------------ resources
    def resources(self, kind: str) -> dict[str, int]:
        res = {**JOB_KINDS[kind].resources, **(self.config["resources"].get(kind) or {})}
        if kind == "latency" and not any(d.startswith("cuda") for d in self.config["latency"]["devices"]):
            res["gpus"] = 0  # a CPU-only matrix holds no GPU
        return res

    def snakemake_resources(self, kind: str) -> dict[str, Any]:
        """Snakemake's names: gpu and cpus_per_task (local limits, SLURM requests), mem_mb, runtime (minutes)."""
        res = self.resources(kind)
        out = {"gpu": res["gpus"], "mem_mb": res["mem_mb"], "runtime": res["runtime"], "cpus_per_task": res["cpus"]}
        if JOB_KINDS[kind].timing:
            out["slurm_extra"] = "'--exclusive'"  # a timing job gets a node of its own on a cluster
        return out

    def device(self, kind: str) -> str:
        """The Ultralytics device string of a job: its own devices, numbered from 0 (docs/cluster.md)."""
        gpus = self.resources(kind)["gpus"]
        return "cpu" if gpus == 0 else ",".join(str(i) for i in range(gpus))

    # ------------------------------------------------------------------------------------------ data
    def dataset(self, task: str) -> dict[str, Any]:
        """Where a task's data live (relative paths): the manifest a data rule makes, the path to train on, nc."""
        data, res = self.config["data"], self.results
        if data["kind"] == "synthetic":
            root = f"{res}/data/{task}"
            return {"manifest": f"{root}/dataset.json", "data": root if task == "classify" else f"{root}/data.yaml",
                    "nc": 1 if task == "pose" else data["synthetic"]["nc"]}
        if task in ("detect", "segment", "pose"):
            root = f"{res}/data/coco"
            return {"manifest": f"{root}/coco.json", "data": f"{root}/coco-{task}.yaml", "nc": PAPER_NC[task]}
        if task == "classify":
            root = f"{res}/data/imagenet"
            return {"manifest": f"{root}/imagenet.json", "data": root, "nc": PAPER_NC[task]}
        root = data["dota_root"]
        if not root:
            raise UserError("an obb study needs the DOTA dataset", file=self.source, key="data.dota_root",
                            allowed="the folder of DOTA v1 in Ultralytics OBB format")
        return {"manifest": f"{root}/dota.yaml", "data": f"{root}/dota.yaml", "nc": PAPER_NC[task]}

    # ------------------------------------------------------------------------------------------ specs
    def train_args(self, run: studies.Run) -> dict[str, Any]:
        """Ultralytics train arguments: recipe <- per-scale <- per-task <- the variant's overrides <- seed."""
        t = self.config["train"]
        overrides = {k: v for k, v in run.train.items() if k not in checks.OURS}
        args = {"epochs": t["epochs"], "imgsz": t["imgsz"], "batch": t["batch"], "workers": t["workers"]}
        args.update(t["recipe"])
        args.update(t["per_scale"].get(run.scale) or {})
        args.update(t["per_task"].get(run.task) or {})
        args.update(overrides)
        args["epochs"] = max(1, round(args["epochs"] * run.train.get("epochs_scale", 1.0)))
        args["seed"] = run.seed
        args["device"] = self.device("train")
        if args["device"] != "cpu":
            args.setdefault("amp", True)
        return args

    def spec(self, kind: str, run_dir: str) -> dict[str, Any]:
        """Everything that determines the job's result (and nothing else: names of studies and variants are not
        here, so renaming them reruns nothing)."""
        run = self.groups[run_dir][0]
        ds = self.dataset(run.task)
        root = f"{self.results}/runs/{run_dir}"
        model = {"family": run.family, "scale": run.scale, "task": run.task, "hierarchy": run.hierarchy,
                 "knobs": run.knobs, "nc": ds["nc"], **({"peer": run.peer} if run.peer else {})}
        spec: dict[str, Any] = {"kind": kind, "config": self.name, "run_dir": root, "model": model,
                                "resources": self.resources(kind), "mlflow": {"uri": self.tracking_uri}}
        if kind == "train":
            spec.update(data=ds["data"], args=self.train_args(run),
                        max_loss=run.train.get("max_loss", self.config["train"]["max_loss"]))
        elif kind == "evaluate":
            spec.update(data=ds["data"], settings=dict(self.config["evaluate"]), imgsz=self.eval_imgsz(run),
                        device=self.device("evaluate"), train_result=self.result_path("train", run_dir))
        elif kind == "export":
            spec.update(imgsz=self.config["export"]["imgsz"], train_result=self.result_path("train", run_dir),
                        # the exported file is scored on the val split as eager is (yolov12.evaluate.artifact)
                        data=ds["data"], settings=dict(self.config["evaluate"]),
                        bootstrap=dict(self.config["bootstrap"]), ap_tolerance=self.config["export"]["ap_tolerance"])
        elif kind == "complexity":
            spec.update(imgsz=self.config["complexity"]["imgsz"])
        elif kind == "latency":
            spec.update(latency=dict(self.config["latency"]))
        if kind in ("complexity", "latency"):
            # architecture measurements use the paper's datasets' class counts, whatever data this config trains on
            model["nc"] = PAPER_NC[run.task]
        return spec

    def spec_json(self, kind: str, run_dir: str) -> str:
        return json.dumps(self.spec(kind, run_dir), sort_keys=True, separators=(",", ":"))

    def eval_imgsz(self, run: studies.Run) -> int:
        return int({**self.config["train"]["per_task"].get(run.task, {})}.get("imgsz", self.config["train"]["imgsz"]))

    @property
    def tracking_uri(self) -> str:
        return tracking.tracking_uri(self.results, self.config["mlflow"]["tracking_uri"])

    # ------------------------------------------------------------------------------------------ index
    def index(self) -> dict[str, Any]:
        """The study -> run directory index the aggregation reads (studies.json, the rows of every CSV)."""
        rows = [r.row() for r in self.runs]
        return {"rows": rows, "studies": studies.studies_index(self.config["studies"], self.ablations_dir,
                                                              self.runs)}


def from_snakemake(config: dict[str, Any], configfiles, basedir: str | Path) -> Plan:
    """The plan of a Snakemake run: the given --configfile(s) (re-read strictly: a duplicate key is an error), or,
    with none, the embedded default. A given config must have a ``name``: it is never merged into the default."""
    from ..yamlio import load_yaml

    files = [str(f) for f in configfiles or []]
    for f in files:
        load_yaml(f, "config file")  # duplicate keys and YAML errors, named by file and line
    if not files and not config:
        default = Path(basedir) / "workflows" / "config" / "default.yaml"
        config, files = load_yaml(default, "config file"), [str(default)]
    source = ", ".join(files) or "--config"
    if "name" not in config:
        raise UserError("a config needs a name (its results go to results/<name>/)", file=source, key="name",
                        allowed="letters, digits, '.', '_' and '-'")
    return make_plan(config, source, basedir)


def make_plan(config: dict[str, Any], source: str, basedir: str | Path = ".") -> Plan:
    """Validate ``config`` (from ``source``) and resolve it; ``ablations_dir`` is relative to ``basedir``."""
    config = validate_config(dict(config), source)
    ablations = Path(basedir, config["ablations_dir"])
    plan = Plan(config, source, ablations)
    plan.check()  # every study error surfaces at parse time
    return plan
