"""Latency harness: the matrix model x device x precision x runtime x batch x imgsz x attention backend x scope.

    from yolov12.latency import measure, write_results, ratio_with_ci
    result = measure({"family": "yolov12", "scale": "n"}, devices=["cpu"], runtimes=["eager", "onnxruntime"],
                     backends=["naive", "sdpa_noflash", "sdpa"], imgszs=[640], min_iters=50, min_s=2.0)
    write_results(result, out_dir="results/latency")   # latency_<hardware>_<device>_<precision>.json

Every cell records the attention backend asked for and the kernel that ran, the conditions it was measured in (and
whether other work contended with it), all its per-iteration samples and the 95 % interval of its median. Peers of
paper Tables 1 and 4 (``peers()``) are timed from Ultralytics' definitions the same way. See docs/latency.md and
docs/statistics.md. CLI: ``yolov12 latency`` and ``yolov12 profile`` (``yolov12.latency.cli``).

Names are imported on first use, so ``import yolov12.latency.names`` (the vocabulary) stays free of torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "core": ("measure", "write_results", "SCHEMA_COLUMNS", "SCOPES"),
    "spec": ("ModelSpec", "as_spec"),
    "env": ("capture_env", "default_threads", "result_filename"),
    "gate": ("TOLERANCES", "check", "detection_match", "output_errors"),
    "runtimes": ("PRECISIONS", "CellContext", "Prepared", "Unavailable", "export_onnx", "primary_outputs",
                 "register_runtime", "set_attention_backend"),
    "stats": ("TimingPlan", "cv_of", "percentile", "run_timed", "summarize", "throughput_ips", "encode_samples",
              "decode_samples", "ratio_with_ci"),
    "conditions": ("snapshot", "judge"),
    "kernels": ("backends", "detect_kernel"),
    "paper_peers": ("peers", "peer_table", "peer_spec"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'yolov12.latency' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
