"""Latency harness: the matrix model x device x precision x runtime x batch x imgsz x attention backend x scope.

    from yolov12.latency import measure, write_results
    result = measure({"family": "yolov12", "scale": "n"}, devices=["cpu"], runtimes=["eager", "onnxruntime"],
                     imgszs=[640], min_iters=50, min_s=2.0)
    write_results(result, out_dir="results/latency")   # latency_<hardware>_<device>_<precision>.json

See docs/latency.md for the method, the correctness gate and the output format. CLI: ``yolov12 latency`` and
``yolov12 profile`` (``yolov12.latency.cli``).
"""

from .core import SCHEMA_COLUMNS, SCOPES, ModelSpec, measure, write_results
from .env import capture_env, default_threads, result_filename
from .gate import TOLERANCES, check, detection_match, output_errors
from .runtimes import (PRECISIONS, RUNTIMES, CellContext, Prepared, Unavailable, export_onnx, primary_outputs,
                       register_runtime, set_attention_backend)
from .stats import TimingPlan, cv_of, percentile, run_timed, summarize

__all__ = ["PRECISIONS", "RUNTIMES", "SCHEMA_COLUMNS", "SCOPES", "TOLERANCES", "CellContext", "ModelSpec", "Prepared",
           "TimingPlan", "Unavailable", "capture_env", "check", "cv_of", "default_threads", "detection_match",
           "export_onnx", "measure", "output_errors", "percentile", "primary_outputs", "register_runtime",
           "result_filename", "run_timed", "set_attention_backend", "summarize", "write_results"]
