"""Every group of settings defined once: its keys, what each allows and its default.

The workflow config's schema (``yolov12/workflow/schemas/config.schema.yaml``, an ``x-settings: <group>``
placeholder) and the command-line defaults (``yolov12 latency``, ``yolov12 val``, ``yolov12 summary``, ``yolov12
data synth``, ``yolov12 variants``) and the Python API's defaults (``measure()``, ``evaluate()``, ``TimingPlan``,
``SynthSpec``) are all read from here, so one default never has two values (tests/test_settings.py checks it).

Each key is a JSON-schema fragment with its ``default``; ``x-enum: <list>`` names a list of the registry, filled in
where the schema is completed. Light: no import beyond the standard library and the error type.
"""

from __future__ import annotations

import copy
from typing import Any

_SEED = {"type": "integer", "minimum": 0, "maximum": 4294967295}
_IMGSZ = {"type": "integer", "minimum": 32, "maximum": 8192}
_SECONDS = {"type": "number", "minimum": 0, "maximum": 3600}


class Group:
    """One group: where it sits in the config (``path``), its keys (JSON-schema fragments with defaults)."""

    def __init__(self, name: str, path: tuple[str, ...], properties: dict[str, dict[str, Any]]):
        self.name, self.path, self.properties = name, path, properties

    @property
    def defaults(self) -> dict[str, Any]:
        return {k: copy.deepcopy(p["default"]) for k, p in self.properties.items() if "default" in p}

    def __getattr__(self, key: str) -> Any:
        try:
            return copy.deepcopy(self.__dict__["properties"][key]["default"])
        except KeyError:
            raise AttributeError(f"settings group {self.__dict__.get('name')!r} has no default {key!r}") from None

    def help(self, key: str) -> str | None:
        return self.properties[key].get("description")


# which studies, scales and seeds a config runs (the config's top level; `yolov12 variants`)
SELECTION = Group("selection", (), {
    "ablations_dir": {"type": "string", "minLength": 1, "default": "ablations",
                      "description": "folder of the study files (relative: to the working directory; unset in a workflow "
                                     "config: the workflow's own ablations/)"},
    "studies": {"$ref": "#/$defs/nonempty_unique_strings", "default": ["all"],
                "description": "study names (files <ablations_dir>/<name>.yaml), or [all]"},
    "scales": {"type": "array", "items": {"x-enum": "scales"}, "minItems": 1, "uniqueItems": True,
               "default": ["n", "s", "m", "l", "x"],
               "description": "scales allowed in this config; a study's scales are intersected with these"},
    "seeds": {"type": "array", "items": _SEED, "minItems": 1, "uniqueItems": True, "default": [0],
              "description": "every variant is trained once per seed (a study's own seeds key overrides this)"},
    "baseline_seeds": {"type": ["array", "null"], "items": _SEED, "minItems": 1, "uniqueItems": True,
                       "default": None,
                       "description": "seeds of the default-model runs (the baselines every study shares), if not "
                                      "the seeds above: the cheapest way to see run-to-run noise"},
    "opt_in": {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9_]+$"}, "uniqueItems": True,
               "default": [], "description": "named groups of extra studies/variants to include (e.g. extras)"},
})

# the embedded synthetic data (config data.synthetic; `yolov12 data synth`; SynthSpec)
SYNTHETIC = Group("synthetic", ("data", "synthetic"), {
    "n_train": {"type": "integer", "minimum": 1, "default": 256, "description": "train images"},
    "n_val": {"type": "integer", "minimum": 1, "default": 64, "description": "val images"},
    "imgsz": {**_IMGSZ, "default": 160, "description": "image width (and height unless height is set)"},
    "height": {"type": ["integer", "null"], "minimum": 32, "maximum": 8192, "default": None,
               "description": "image height (null = square)"},
    "nc": {"type": "integer", "minimum": 1, "maximum": 8, "default": 5, "description": "classes (pose: always 1)"},
    "max_objects": {"type": "integer", "minimum": 1, "default": 6, "description": "objects per image at most"},
    "seed": {**_SEED, "default": 0, "description": "same seed and sizes, same bytes"},
})

TRAIN = Group("train", ("train",), {
    "epochs": {"type": "integer", "minimum": 1, "default": 600},
    "imgsz": {**_IMGSZ, "default": 640},
    "batch": {"type": "integer", "minimum": 1, "default": 256},
    "workers": {"type": "integer", "minimum": 0, "default": 8},
    "max_loss": {"type": "number", "exclusiveMinimum": 0, "default": 1000,
                 "description": "a mean loss above this (or NaN/inf) stops the run as diverged"},
})

# COCO-toolkit evaluation (config evaluate; `yolov12 val`; evaluate(), evaluate_artifact())
EVALUATE = Group("evaluate", ("evaluate",), {
    "backend": {"enum": ["pycocotools", "faster-coco-eval"], "default": "pycocotools",
                "description": "COCO toolkit implementation"},
    "conf": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.001,
             "description": "confidence threshold in [0, 1)"},
    "iou": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.7,
            "description": "NMS IoU threshold in (0, 1]"},
    "max_det": {"type": "integer", "minimum": 1, "default": 100, "description": "detections per image at most"},
    # rect validation pads each batch to its largest image: the batch size moves AP a little, so it has one value
    "batch": {"type": "integer", "minimum": 1, "default": 32, "description": "images per batch"},
    # an explicit precision, never 'auto': a result must not depend on the device it happened to run on
    "precision": {"enum": ["fp32", "fp16"], "default": "fp32",
                  "description": "fp16 = the paper's evaluation (CUDA only; refused on a CPU)"},
})

# paired-bootstrap intervals of accuracy deltas (config bootstrap; evaluate_artifact(), paired_delta())
BOOTSTRAP = Group("bootstrap", ("bootstrap",), {
    "n_boot": {"type": "integer", "minimum": 100, "maximum": 1000000, "default": 1000},
    "level": {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 1, "default": 0.95},
})

# a timing session (config latency; `yolov12 latency`; measure(), SessionSettings, TimingPlan)
LATENCY = Group("latency", ("latency",), {
    "devices": {"type": "array", "items": {"type": "string", "pattern": "^(cpu|cuda(:[0-9]+)?)$"}, "minItems": 1,
                "uniqueItems": True, "default": ["cpu"], "description": "torch devices: cpu, cuda:0, ..."},
    "precisions": {"type": "array", "items": {"x-enum": "precisions"}, "minItems": 1, "uniqueItems": True,
                   "default": ["fp32"]},
    "runtimes": {"type": "array", "items": {"x-enum": "runtimes"}, "minItems": 1, "uniqueItems": True,
                 "default": ["eager"]},
    "imgsz": {**_IMGSZ, "default": 640},
    "batch": {"type": "integer", "minimum": 1, "default": 1},
    # a fixed count, not "this machine's cores": the thread count is a condition of the number (and of its identity)
    "threads": {"type": "integer", "minimum": 1, "default": 2, "description": "CPU threads"},
    "warmup_iters": {"type": "integer", "minimum": 0, "default": 20},
    "warmup_s": {**_SECONDS, "default": 2},
    "min_iters": {"type": "integer", "minimum": 2, "default": 100,
                  "description": "timed iterations at least (2: a spread)"},
    "min_s": {**_SECONDS, "default": 5},
    "processes": {"type": "integer", "minimum": 1, "default": 3,
                  "description": "independent processes (fresh interpreter, own warm-up) timing every cell in turn; "
                                 "a cell's interval comes from the spread between them, so it needs >= 3"},
    "studies": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": True,
                "default": ["all"],
                "description": "the studies whose cells are timed ([all]: every study that measures latency); a "
                               "budget, not an identity"},
    # config only (a workflow budget): yolov12 latency times the runtimes it is given
    "runtime_studies": {"type": "object", "default": {},
                        "additionalProperties": {"type": "array", "items": {"type": "string", "minLength": 1},
                                                 "minItems": 1, "uniqueItems": True},
                        "description": "a runtime named here times only these studies' cells ({onnxruntime: "
                                       "[scales]}); a budget like studies, not an identity"},
})

COMPLEXITY = Group("complexity", ("complexity",), {
    "imgsz": {**_IMGSZ, "default": 640},
})

EXPORT = Group("export", ("export",), {
    "imgsz": {**_IMGSZ, "default": 640},
    "ap_tolerance": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.005,
                     "description": "|AP(artifact) - AP(eager)| beyond which an export is flagged 'fast but not the "
                                    "same model' (yolov12.evaluate.artifact)"},
})

GROUPS: dict[str, Group] = {g.name: g for g in (SELECTION, SYNTHETIC, TRAIN, EVALUATE, BOOTSTRAP, LATENCY,
                                                 COMPLEXITY, EXPORT)}
