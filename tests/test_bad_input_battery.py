"""The second bad-input battery (issue 20): >= 200 cases, each a table row run in-process against the real plan
(config and study files) or the real command line, and sorted into

    A refused clearly   exit 2 / UserError, one line naming the file (configs) and the key
    B refused unclearly exit 1, a traceback, several lines, or a line without the key
    C accepted silently the input planned (or the command ran) as if it were fine
    D partial output    a file was written before the refusal

The test requires A for every case. ``python tests/test_bad_input_battery.py`` prints the counts (run it with
PYTHONPATH pointing at another checkout to count there)."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import sys
from pathlib import Path

import pytest
import yaml

STUDY = {"study": "mine", "table": "T", "title": "t",
         "variants": {"base": {}, "k3": {"knobs": {"pe_kernel": 3}}, "extra": {"knobs": {"area": 2}, "opt_in": "more"}}}


def base_config(tmp: Path) -> dict:
    return {"name": "bad", "scales": ["n"], "studies": ["mine"], "ablations_dir": str(tmp / "studies"),
            "train": {"epochs": 1, "imgsz": 64, "batch": 2, "recipe": {"nbs": 2}},
            "latency": {"imgsz": 64}, "complexity": {"imgsz": 64}, "export": {"imgsz": 64}}


def put(node: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return node


def cfg(dotted: str, value, key: str | None = None):
    return ("config", lambda c, s: put(c, dotted, value), key or dotted)


def study(change, key: str):
    return ("study", lambda c, s: change(s), key)


def variant_train(name: str, value, key: str | None = None):
    return study(lambda s: put(s, f"variants.k3.train.{name}", value), key or f"variants.k3.train.{name}")


NAN, INF = math.nan, math.inf
CASES: list[tuple[str, tuple]] = []

# every numeric config field: below its range, the wrong type, not finite
NUMERIC = {"data.synthetic.n_train": 0, "data.synthetic.n_val": 0, "data.synthetic.imgsz": 16,
           "data.synthetic.height": 8, "data.synthetic.nc": 0, "data.synthetic.max_objects": 0,
           "data.synthetic.seed": -1, "train.epochs": 0, "train.imgsz": 16, "train.batch": 0, "train.workers": -1,
           "train.max_loss": 0, "evaluate.conf": -0.1, "evaluate.iou": 0, "evaluate.max_det": 0,
           "evaluate.batch": 0, "bootstrap.n_boot": 10, "bootstrap.level": 0.4, "latency.imgsz": 16,
           "latency.batch": 0, "latency.threads": 0, "latency.warmup_iters": -1, "latency.warmup_s": -1,
           "latency.min_iters": 1, "latency.min_s": -1, "complexity.imgsz": 0, "export.imgsz": 0,
           "resources.train.gpus": -1, "resources.train.cpus": 0, "resources.train.mem_mb": 0,
           "resources.train.runtime": 0, "resources.train.retries": -1}
for key, low in NUMERIC.items():
    CASES += [(f"{key}-low", cfg(key, low)), (f"{key}-text", cfg(key, "ten")), (f"{key}-nan", cfg(key, NAN))]
CASES += [(f"{k}-high", cfg(k, v)) for k, v in {
    "evaluate.conf": 1.5, "evaluate.iou": 1.5, "bootstrap.level": 1.0, "train.imgsz": 100000,
    "latency.imgsz": 100000, "data.synthetic.nc": 99, "train.max_loss": INF, "latency.min_s": INF,
    "latency.warmup_s": 1e9, "bootstrap.n_boot": 10**9, "data.synthetic.seed": 2**40}.items()]
CASES += [("seed-negative", cfg("seeds", [-1], "seeds.0")), ("seed-huge", cfg("seeds", [2**40], "seeds.0")),
          ("seed-text", cfg("seeds", ["a"], "seeds.0")), ("seed-bool", cfg("seeds", [True], "seeds.0")),
          ("seed-twice", cfg("seeds", [0, 0], "seeds")), ("seeds-empty", cfg("seeds", [], "seeds")),
          ("baseline-seeds-negative", cfg("baseline_seeds", [-2], "baseline_seeds.0")),
          ("baseline-seeds-empty", cfg("baseline_seeds", [], "baseline_seeds"))]

# imgsz / batch / epochs set in another place, checked like train.imgsz
for place in ("train.recipe", "train.per_scale.n", "train.per_task.detect"):
    for name, bad in (("imgsz", 70), ("imgsz", "big"), ("imgsz", 8), ("batch", 0), ("batch", "x"),
                      ("epochs", 0), ("epochs", 2.5)):
        CASES.append((f"{place}.{name}={bad}", cfg(f"{place}.{name}", bad)))
for name, bad in (("imgsz", 70), ("imgsz", "big"), ("batch", 0), ("epochs", 0), ("epochs", "ten")):
    CASES.append((f"variant.{name}={bad}", variant_train(name, bad)))

# Ultralytics train values of the wrong type or range, in the recipe and in a variant
ULTRA_BAD = [("lr0", -0.1), ("lr0", "fast"), ("lr0", 2.0), ("lr0", NAN), ("lrf", 1.5), ("momentum", 1.5),
             ("weight_decay", -1), ("mosaic", "yes"), ("mixup", 2), ("close_mosaic", -1), ("close_mosaic", 1.5),
             ("cos_lr", "no"), ("optimizer", "adamw"), ("optimizer", "sgdd"), ("optimizer", 3), ("nbs", 0),
             ("patience", -1), ("fraction", 0), ("warmup_epochs", -1), ("box", -1), ("dropout", 2),
             ("amp", None), ("workers", -2), ("hsv_h", "x")]
CASES += [(f"recipe.{n}={v!r}", cfg(f"train.recipe.{n}", v)) for n, v in ULTRA_BAD]
CASES += [(f"variant.{n}={v!r}", variant_train(n, v)) for n, v in ULTRA_BAD[:12]]
CASES += [(f"variant.epochs_scale={v!r}", variant_train("epochs_scale", v)) for v in (0, -1, "x", NAN, INF)]
CASES += [(f"variant.max_loss={v!r}", variant_train("max_loss", v)) for v in (0, -5, "big", NAN)]
CASES += [("per-scale-not-mapping", cfg("train.per_scale.n", 3)), ("recipe-not-mapping", cfg("train.recipe", [1]))]

# names that leave their folder or read as flags; names that select things
CASES += [(f"name={v!r}", cfg("name", v)) for v in ("..", ".", "-x", "a/b", "", ".hidden", "/abs", 5, True)]
CASES += [("studies-all-typo", cfg("studies", ["all", "mien"], "mien")),
          ("studies-all-known", cfg("studies", ["all", "mine"], "studies")),
          ("studies-bool", cfg("studies", [True], "studies.0")), ("studies-typo", cfg("studies", ["mien"], "mien")),
          ("opt-in-typo", cfg("opt_in", ["mroe"], "opt_in")), ("opt-in-case", cfg("opt_in", ["More"], "opt_in.0")),
          ("opt-in-unused", cfg("opt_in", ["extras"], "opt_in")), ("opt-in-bool", cfg("opt_in", [True], "opt_in.0")),
          ("backend-typo", cfg("evaluate.backend", "pycocotool")),
          ("precision-case", cfg("evaluate.precision", "FP16")), ("scale-upper", cfg("scales", ["N"], "scales.0")),
          ("runtime-typo", cfg("latency.runtimes", ["onnx"], "latency.runtimes.0")),
          ("device-typo", cfg("latency.devices", ["gpu"], "latency.devices.0")),
          ("data-kind-typo", cfg("data.kind", "reall")), ("unknown-top", cfg("nmae", "x")),
          ("unknown-train", cfg("train.lr0", 0.1)), ("unknown-latency", cfg("latency.iters", 3)),
          ("synthetic-text", cfg("synthetic", "yes")), ("ablations-empty", cfg("ablations_dir", ""))]
CASES += [("baseline-typo", study(lambda s: put(s, "baseline", "bsae"), "baseline")),
          ("baseline-bool", study(lambda s: put(s, "baseline", True), "baseline")),
          ("variant-dotdot", study(lambda s: put(s, "variants.-x", {}), "variants")),
          ("variant-bool-name", study(lambda s: s["variants"].update({True: {}}) or s, "variants")),
          ("variant-opt-in-upper", study(lambda s: put(s, "variants.k3.opt_in", "More"), "variants.k3.opt_in")),
          ("study-seeds-negative", study(lambda s: put(s, "seeds", [-1]), "seeds.0")),
          ("study-seeds-huge", study(lambda s: put(s, "seeds", [2**40]), "seeds.0")),
          ("study-scales-empty", study(lambda s: put(s, "scales", []), "scales")),
          ("study-measure-typo", study(lambda s: put(s, "measure", ["trian"]), "measure.0")),
          ("study-family-typo", study(lambda s: put(s, "family", "yolov1"), "family")),
          ("variant-knob-nan", study(lambda s: put(s, "variants.k3.knobs.mlp_ratio", NAN), "mlp_ratio")),
          ("variant-train-list", study(lambda s: put(s, "variants.k3.train", [1]), "variants.k3.train")),
          ("variant-note-number", study(lambda s: put(s, "variants.k3.note", 5), "variants.k3.note")),
          ("study-title-missing", study(lambda s: s.pop("title") and s, "title"))]

CASES += [(f"flag-path-{k}", cfg(k, "-rf")) for k in ("data.coco_root", "data.imagenet_root", "data.dota_root",
                                                        "reference_logs", "ablations_dir")]

# values checked only at the first job before: tracking URI, real data roots
CASES += [(f"tracking={v}", cfg("mlflow.tracking_uri", v, "mlflow.tracking_uri")) for v in (
    "htp://x:5000", "localhost:5000", "http://127.0.0.1:9", "https://127.0.0.1:9", "postgresql://u@127.0.0.1:9/db",
    "http://", "http://127.0.0.1:notaport", "ftp://127.0.0.1/x")]
CASES += [("real-without-coco-root", cfg("data.kind", "real", "data.coco_root")),
          ("real-coco-root-empty", ("config", lambda c, s: put(put(c, "data.kind", "real") and c, "data.coco_root",
                                                                  ""), "data.coco_root"))]


# command line: (id, argv, key the line must name)
def cli(name: str, argv: list[str], key: str):
    return name, ("cli", argv, key)


CLI = [cli("latency-batch-0", ["latency", "--batch", "0"], "--batch"),
       cli("latency-batch-text", ["latency", "--batch", "one"], "--batch"),
       cli("latency-imgsz-0", ["latency", "--imgsz", "0"], "--imgsz"),
       cli("latency-imgsz-stride", ["latency", "--imgsz", "100"], "--imgsz"),
       cli("latency-imgsz-area", ["latency", "--imgsz", "96", "--knob", "area=5"], "area"),
       cli("latency-threads-0", ["latency", "--threads", "0"], "--threads"),
       cli("latency-warmup-neg", ["latency", "--warmup-iters", "-1"], "--warmup-iters"),
       cli("latency-warmup-s-nan", ["latency", "--warmup-s", "nan"], "--warmup-s"),
       cli("latency-min-iters-1", ["latency", "--min-iters", "1"], "--min-iters"),
       cli("latency-min-s-neg", ["latency", "--min-s", "-1"], "--min-s"),
       cli("latency-max-s-0", ["latency", "--max-s", "0"], "--max-s"),
       cli("latency-device", ["latency", "--devices", "gpu0"], "--devices"),
       cli("latency-peer-stride", ["latency", "--peer", "yolov8n", "--imgsz", "100"], "--imgsz"),
       cli("latency-checkpoint-missing", ["latency", "--checkpoint", "nope.pt"], "--checkpoint"),
       cli("latency-out-file", ["latency", "--out", "afile"], "--out"),
       cli("latency-json-dir", ["latency", "--json", "adir"], "--json"),
       cli("latency-precision", ["latency", "--precision", "fp8"], "--precision"),
       cli("profile-batch-0", ["profile", "--batch", "0"], "--batch"),
       cli("profile-imgsz-stride", ["profile", "--imgsz", "650"], "--imgsz"),
       cli("profile-imgsz-area", ["profile", "--imgsz", "96", "--knob", "area=5"], "area"),
       cli("profile-threads", ["profile", "--threads", "-2"], "--threads"),
       cli("profile-min-iters", ["profile", "--min-iters", "0"], "--min-iters"),
       cli("profile-min-s", ["profile", "--min-s", "inf"], "--min-s"),
       cli("profile-json-dir", ["profile", "--json", "adir"], "--json"),
       cli("val-out-dir", ["val", "--model", "m.pt", "--data", "d.yaml", "--out", "adir"], "--out"),
       cli("val-batch-0", ["val", "--model", "m.pt", "--data", "d.yaml", "--batch", "0"], "batch"),
       cli("val-conf", ["val", "--model", "m.pt", "--data", "d.yaml", "--conf", "2"], "conf"),
       cli("val-backend", ["val", "--model", "m.pt", "--data", "d.yaml", "--backend", "coco"], "--backend"),
       cli("report-empty", ["report", "--results", "adir"], "--results"),
       cli("report-file", ["report", "--results", "afile"], "--results"),
       cli("report-out-file", ["report", "--results", "results", "--out", "afile"], "--out"),
       cli("yaml-out-file", ["yaml", "--out", "afile"], "--out"),
       cli("summary-csv-dir", ["summary", "--scales", "n", "--csv", "adir"], "--csv"),
       cli("synth-out-file", ["data", "synth", "--out", "afile"], "--out"),
       cli("synth-out-flag", ["data", "synth", "--out", "-x"], "--out"),
       cli("workflow-run-out-dir", ["workflow", "run", "train", "--spec", "{}", "--out", "adir"], "--out"),
       cli("knob-nan", ["yaml", "--knob", "mlp_ratio=nan"], "mlp_ratio"),
       cli("nc-0", ["yaml", "--nc", "0"], "--nc"),
       cli("summary-imgsz-text", ["summary", "--imgsz", "big"], "--imgsz")]
CASES += CLI


def _prepare(tmp: Path) -> None:
    (tmp / "studies").mkdir(exist_ok=True)
    (tmp / "adir").mkdir(exist_ok=True)
    (tmp / "afile").write_text("x")
    (tmp / "results").mkdir(exist_ok=True)
    (tmp / "results" / "accuracy.csv").write_text("study\n")


def _files(tmp: Path) -> set[Path]:
    return {p for p in tmp.rglob("*") if p.is_file()}


def run_case(case: tuple, tmp: Path) -> tuple[str, str]:
    """(category, what happened) for one case, run in ``tmp`` (the working directory)."""
    from yolov12.errors import UserError

    _prepare(tmp)
    kind = case[0]
    old_cwd = os.getcwd()
    os.chdir(tmp)
    try:
        if kind == "cli":
            _, argv, key = case
            before = _files(tmp)
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    from yolov12.cli import main
                    rc = main(argv)
                except SystemExit as e:
                    rc = int(e.code or 0)
            text = err.getvalue()
            written = _files(tmp) - before
            lines = [x for x in text.splitlines() if x.startswith("error: ")]
            if written:
                return "D", f"wrote {sorted(str(p.relative_to(tmp)) for p in written)}"
            if rc == 0:
                return "C", "exit 0"
            if rc == 2 and len(lines) == 1 and "Traceback" not in text and key in lines[0]:
                return "A", lines[0]
            return "B", f"exit {rc}: {text.strip()[-300:]}"
        _, change, key = case
        config, study_doc = base_config(tmp), copy.deepcopy(STUDY)
        change(config, study_doc)
        study_path = tmp / "studies" / "mine.yaml"
        study_path.write_text(yaml.safe_dump(study_doc, allow_unicode=True))
        source = str(tmp / "config.yaml")
        before = _files(tmp)
        from yolov12.workflow.plan import make_plan

        try:
            plan = make_plan(config, source, tmp)
            for k in ("train", "evaluate", "latency", "complexity"):  # the specs the jobs would get
                [plan.spec(k, d) for d in plan.run_dirs(k)]
        except UserError as e:
            line = str(e)
            where = str(study_path) if kind == "study" else source
            ok = "\n" not in line and key in line and (where in line or "environment" in line)
            return ("D" if _files(tmp) - before else "A" if ok else "B"), line
        except Exception as e:  # noqa: BLE001  (an uncaught error is the unclear refusal this battery counts)
            return "B", f"{type(e).__name__}: {e}"
        return ("D" if _files(tmp) - before else "C"), "planned"
    finally:
        os.chdir(old_cwd)


@pytest.mark.parametrize("case", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(tmp_path, case):
    category, what = run_case(case, tmp_path)
    assert category == "A", what


def test_battery_is_large_enough():
    assert len(CASES) >= 200 and len({c[0] for c in CASES}) == len(CASES)


def isolated(name: str, limit: float) -> tuple[str, str]:
    """Run one case in a child process: a command that is still working after ``limit`` seconds accepted its input
    (category C) -- on a checkout without the checks, a bad latency flag starts a real timing run."""
    import subprocess

    try:
        proc = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True,
                              timeout=limit)
    except subprocess.TimeoutExpired:
        return "C", f"still working after {limit:g} s"
    last = (proc.stdout.strip().splitlines() or ["B no result"])[-1]
    return last[0], last[2:]


if __name__ == "__main__":
    import tempfile

    by_name = dict(CASES)
    if "--one" in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            category, what = run_case(by_name[sys.argv[sys.argv.index("--one") + 1]], Path(tmp))
        print(f"{category} {' '.join(what.split())}")
        sys.exit(0)
    limit = float(sys.argv[sys.argv.index("--isolate") + 1]) if "--isolate" in sys.argv else None
    start = sys.argv[sys.argv.index("--start") + 1] if "--start" in sys.argv else None
    names = [n for n, _ in CASES]
    counts = {"A": 0, "B": 0, "C": 0, "D": 0}
    for name, case in CASES[names.index(start) if start else 0:]:
        if limit is not None:
            category, what = isolated(name, limit)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                category, what = run_case(case, Path(tmp))
        counts[category] += 1
        if category != "A" or "-v" in sys.argv:
            print(f"{category} {name}: {what}"[:400])
    print(f"{len(CASES)} cases:", counts)
