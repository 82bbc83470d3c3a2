"""Workflow complexity job: parameters and FLOPs of every architecture of one scale, in one process.

One job per scale (``registry.JobKind.scope == "session"``): its spec is ``{"cells": [{"model": {...}, "model_dir":
...}, ...], "complexity": {"imgsz": ...}}`` (``Plan._session_identities``). Counting is deterministic and needs no
isolation, so the architectures are measured one after the other in this process: the interpreter start, the imports
and the MLflow client are paid once per scale instead of once per architecture (issue 19: they were most of each
job). Each architecture keeps its own record (``architectures[model_dir]``, what the aggregation picks by a row's
``model_dir``) and its own MLflow run (named by its architecture's folder, tagged with it).

A failure of one architecture fails the job (its MLflow run ends FAILED with the reason, no result file is
written): the job reruns whole at the next invocation, never leaving a silent gap in a result that looks complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .jobs import MODEL_KEYS, _guarded, finish, model_params


def architecture_record(result: dict[str, Any] | None, model_dir: str) -> dict[str, Any] | None:
    """One architecture's record in a job result: a session's record for ``model_dir`` (None when the session does
    not hold it), or the result itself for a kind that measures one architecture or training per job."""
    if result is None or "architectures" not in result:
        return result
    return result["architectures"].get(model_dir)


def count(model_spec: dict[str, Any], imgsz: int) -> dict[str, Any]:
    """Parameters and FLOPs (paper convention and true, with the attention matmuls) of one architecture."""
    from ..complexity import summary
    from ..latency.profile import profile
    from ..models import torch_model

    knobs = dict(model_spec["knobs"])
    if knobs.get("backend") == "flash_attn":  # FLOPs do not depend on the kernel; flash-attn needs CUDA
        knobs["backend"] = "sdpa"
    if model_spec.get("peer"):  # a peer of the paper's tables, from Ultralytics' own definition
        from ..latency.paper_peers import peer_spec

        model = peer_spec(model_spec["peer"]).build()
    else:
        model = torch_model(**{k: model_spec[k] for k in MODEL_KEYS}, nc=model_spec["nc"], **knobs)
    result = summary(model, imgsz)
    true = profile(model, imgsz=imgsz, timing=False)  # FLOPs including the attention matmuls
    result.update(gflops_true=true.get("gflops_true"), attn_flops_share=true.get("attn_flops_share"))
    return result


def run_complexity(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    imgsz = spec["complexity"]["imgsz"]
    records: dict[str, dict[str, Any]] = {}
    for cell in spec["cells"]:
        # the architecture's own spec: its model, so that its run's params and tags are its own
        mine = {**{k: v for k, v in spec.items() if k != "cells"}, "model": cell["model"], "imgsz": imgsz}

        def work(job, mine=mine):
            result = count(mine["model"], imgsz)
            metrics = {k: v for k, v in result.items() if k != "imgsz"}
            return finish(job, result, {**model_params(mine), "imgsz": imgsz}, metrics)

        records[cell["model_dir"]] = {"model": cell["model"], **_guarded("complexity", mine, work, cell["model_dir"])}
    return {"complexity": spec["complexity"], "architectures": records}
