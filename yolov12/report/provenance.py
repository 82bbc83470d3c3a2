"""The report header: config, commit, date, hardware, software. The workflow passes what it knows; the rest is
computed here (git, platform, installed package versions)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from importlib import metadata

from ..gitinfo import git_commit as _git_commit
from .data import Results

PACKAGES = ("torch", "torchvision", "ultralytics", "yolov12-suite", "numpy", "pandas", "matplotlib", "mlflow",
            "snakemake", "onnxruntime", "typst")


def git_commit() -> str:
    return _git_commit(mark_dirty=True) or "unknown (not a git checkout)"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def hardware() -> str:
    from .. import cpu

    text = f"{cpu.model_name()}, {cpu.logical_cpus()} logical CPUs, {platform.system()} {platform.release()}"
    try:
        import torch

        if torch.cuda.is_available():
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            text += "; GPU: " + ", ".join(names)
        else:
            text += "; no CUDA device"
    except Exception:  # torch missing or broken: the header still renders
        pass
    return text


def report_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch and epoch.isdigit() else \
        _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%d %H:%M UTC")


def collect(config_name: str, results: Results, given: dict | None) -> dict:
    """Provenance with the workflow's values first and local fallbacks for what it left out."""
    given = dict(given or {})
    prov: dict = {"config": given.pop("config", None) or config_name}
    prov["git_commit"] = given.pop("git_commit", None) or git_commit()
    prov["date"] = given.pop("date", None) or report_date()
    prov["hardware"] = given.pop("hardware", None) or hardware()
    devices = results.latency_devices
    prov["latency_devices"] = given.pop("latency_devices", None) or (", ".join(devices) if devices else "none")
    software = versions()
    software.update(given.pop("software", None) or {})
    prov["software"] = software
    synthetic = given.pop("synthetic", None)
    if synthetic is None:  # the CLI flag, else the resolved config's data.kind (the one key that says it)
        synthetic = (results.config.get("data") or {}).get("kind") == "synthetic"
    prov["synthetic"] = bool(synthetic)
    if results.config.get("seeds") is not None:
        given.setdefault("seeds", ", ".join(str(s) for s in results.config["seeds"]))
    prov["extra"] = {k: v for k, v in given.items() if v not in (None, "")}
    datasets = sorted({r.get("dataset", "") for r in results.frames["accuracy"]} - {""})
    prov["datasets"] = ", ".join(datasets) if datasets else "none (no accuracy results)"
    return prov


def synthetic_statement(prov: dict) -> str:
    return ("Synthetic data at tiny training budgets checks the pipeline, not the paper. This is a smoke run of the "
            "embedded default config: its accuracy numbers are NOT comparable to the paper's COCO results, so "
            "accuracy and convergence verdicts read \u201cnot measured\u201d. Parameter counts and FLOPs are real "
            "measurements; latency is real but measured at this config's image size on this machine.")


MEASURED_STATEMENT = ("Every timing cell states its median [95 % interval], image size, iterations and the attention "
                      "kernel that ran; CONTENDED marks a cell measured while other work competed for the device. "
                      "Milliseconds of different settings never get a \u0394.")


def rows(prov: dict) -> list[tuple[str, str]]:
    out = [("Config", prov["config"]), ("Git commit", prov["git_commit"]), ("Date", prov["date"]),
           ("Hardware (report machine)", prov["hardware"]), ("Latency measured on", prov["latency_devices"]),
           ("Datasets", prov["datasets"]),
           ("Software", ", ".join(f"{k} {v}" for k, v in prov["software"].items()))]
    out += [(str(k), str(v)) for k, v in prov["extra"].items()]
    return out
