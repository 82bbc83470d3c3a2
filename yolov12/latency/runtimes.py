"""Runtimes a latency cell can run on: eager PyTorch, torch.compile, CUDA graphs, ONNX Runtime, TensorRT, and any
runtime registered in ``yolov12.registry`` (``register_runtime``, an entry point of group ``yolov12.runtimes``, or a
module named in ``YOLOV12_PLUGINS``): the registry holds the one list of runtime names.

Each builder takes the BN-fused fp32 model (never modified) and a ``CellContext`` and returns a ``Prepared`` runtime:
``fn(x)`` maps a preprocessed input tensor (on the cell's device, in the cell's dtype) to the tuple of the model's
inference output tensors (for detection: the decoded (B, 4 + nc, anchors) tensor; segmentation adds the prototypes).
A builder raises ``Unavailable`` when the cell cannot run here (no CUDA, package missing, precision unsupported):
the cell is then reported ``unavailable`` with the reason and the run goes on.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from .. import registry
from ..io import atomic_path
from .kernels import check_backend
from .model_io import (InferenceOutputs, attention_modules, model_backend, primary_outputs,  # noqa: F401  (API)
                       resolved_kernel, set_attention_backend, weights_key)

def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# the torch dtype of each precision of the registry
PRECISIONS = {p: {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[p] for p in registry.PRECISIONS}


class Unavailable(Exception):
    """The cell cannot run on this machine / installation; the message is the reason."""


@dataclass
class CellContext:
    device: torch.device
    precision: str
    batch: int
    imgsz: tuple[int, int]
    threads: int
    workdir: Path
    model_key: str  # identity of the model's weights + architecture (for export caches)
    backend: str | None = None
    options: dict = field(default_factory=dict)  # compile_mode, onnx_file, opset, simplify

    @property
    def dtype(self) -> torch.dtype:
        return PRECISIONS[self.precision]

    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, 3, *self.imgsz)

    def tag(self) -> str:
        dev = self.device.type
        return f"{self.model_key}_b{self.batch}_{self.imgsz[0]}x{self.imgsz[1]}_{self.precision}_{dev}_{self.backend}"


@dataclass
class Prepared:
    fn: Callable[[torch.Tensor], tuple[torch.Tensor, ...]]
    sync: Callable[[], None] | None
    timer: str  # perf_counter | cuda_events
    info: dict = field(default_factory=dict)
    close: Callable[[], None] | None = None
    # kernel detection (yolov12.latency.kernels): the eager module that ``fn`` runs (its attention modules get
    # profiler ranges), whether ``fn`` hides its operators from torch.profiler (then ``module`` is profiled
    # instead, when it runs the same kernels, as a captured CUDA graph does), and the note when nothing is visible
    module: nn.Module | None = None
    opaque: bool = False
    kernel_note: str | None = None


def check_static(device: torch.device, precision: str, runtime: str, backend: str | None) -> str | None:
    """Reason why a cell cannot run here, from facts known before building anything (None = go ahead)."""
    if precision not in PRECISIONS:
        return f"precision {precision!r} is not known; allowed: {list(PRECISIONS)}"
    if runtime not in registry.runtimes():
        return f"runtime {runtime!r} is not known; allowed: {list(registry.runtimes())}"
    check_backend(backend)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "no CUDA device on this machine (torch.cuda.is_available() is False)"
        idx = device.index or 0
        if idx >= torch.cuda.device_count():
            return f"cuda:{idx} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)"
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            return f"bf16 is not supported on {torch.cuda.get_device_name(idx)}"
    elif device.type != "cpu":
        return f"device {device} is not supported; use cpu or cuda:N"
    if runtime == "cudagraphs" and device.type != "cuda":
        return "CUDA graphs need a CUDA device"
    if runtime == "tensorrt":
        if device.type != "cuda":
            return "TensorRT needs a CUDA device"
        if importlib.util.find_spec("tensorrt") is None:
            return "TensorRT is not installed (pip install tensorrt)"
        if precision == "bf16":
            return "Ultralytics' TensorRT export offers fp32 and fp16 (and int8), not bf16"
    if runtime == "onnxruntime":
        if importlib.util.find_spec("onnxruntime") is None:
            return "onnxruntime is not installed"
        if device.type == "cuda":
            import onnxruntime

            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                return ("ONNX Runtime has no CUDAExecutionProvider here (install onnxruntime-gpu); available: "
                        f"{onnxruntime.get_available_providers()}")
        if precision == "bf16":
            return ("ONNX Runtime bf16 is not offered: ONNX's Conv operator does not take bfloat16 inputs (ONNX "
                    "Runtime rejects a bf16 export as an invalid graph) and numpy has no bfloat16 array type")
    if backend == "flash_attn":
        from ..nn.attention import FLASH_ATTN_INSTALLED

        if not FLASH_ATTN_INSTALLED:
            return "attention backend flash_attn needs the flash-attn package (pip install -e '.[flash]', CUDA only)"
        if device.type != "cuda":
            return "attention backend flash_attn runs on CUDA only"
        major, minor = torch.cuda.get_device_capability(device)
        if major < 8:
            return (f"attention backend flash_attn needs an sm80+ GPU (Ampere or newer); "
                    f"{torch.cuda.get_device_name(device)} is sm{major}{minor}")
        if runtime in ("onnxruntime", "tensorrt"):
            return "attention backend flash_attn cannot be exported to ONNX / TensorRT"
    return None


def _torch_sync(device: torch.device) -> Callable[[], None] | None:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return None


def _module_on(model: nn.Module, ctx: CellContext) -> nn.Module:
    m = copy.deepcopy(model).to(device=ctx.device, dtype=ctx.dtype).eval()
    set_attention_backend(m, ctx.backend)
    return InferenceOutputs(m).eval()


def build_eager(model: nn.Module, ctx: CellContext) -> Prepared:
    m = _module_on(model, ctx)
    timer = "cuda_events" if ctx.device.type == "cuda" else "perf_counter"
    return Prepared(fn=m, sync=_torch_sync(ctx.device), timer=timer, info={}, module=m)


def build_compile(model: nn.Module, ctx: CellContext) -> Prepared:
    m = _module_on(model, ctx)
    mode = ctx.options.get("compile_mode")
    x = torch.zeros(ctx.input_shape(), device=ctx.device, dtype=ctx.dtype)
    with torch.inference_mode():
        m(x)  # eager call first: the head caches its anchors, so the compiled graph's guards see a settled module
    compiled = torch.compile(m, mode=mode, dynamic=False, fullgraph=False)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for _ in range(3):  # compilation (and any guard-triggered recompilation) happens here, not in the warm-up
            compiled(x)
    sync = _torch_sync(ctx.device)
    if sync:
        sync()
    timer = "cuda_events" if ctx.device.type == "cuda" else "perf_counter"
    return Prepared(fn=compiled, sync=sync, timer=timer,
                    info={"compile_mode": mode or "default", "compile_s": round(time.perf_counter() - t0, 2)},
                    kernel_note="torch.compile: no attention operator visible (fused into generated code)")


def build_cudagraphs(model: nn.Module, ctx: CellContext) -> Prepared:
    if ctx.device.type != "cuda":
        raise Unavailable("CUDA graphs need a CUDA device")
    m = _module_on(model, ctx)
    static_x = torch.zeros(ctx.input_shape(), device=ctx.device, dtype=ctx.dtype)
    with torch.inference_mode():
        side = torch.cuda.Stream(ctx.device)
        side.wait_stream(torch.cuda.current_stream(ctx.device))
        with torch.cuda.stream(side):
            for _ in range(3):  # lazy inits (cuDNN plans, anchors) outside the capture
                m(static_x)
        torch.cuda.current_stream(ctx.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = m(static_x)

    def fn(x):
        if x.data_ptr() != static_x.data_ptr():
            static_x.copy_(x)
        graph.replay()
        return static_out

    return Prepared(fn=fn, sync=_torch_sync(ctx.device), timer="cuda_events", info={"graph": "torch.cuda.CUDAGraph"},
                    close=graph.reset, module=m, opaque=True)  # the graph replays the kernels m's eager call ran


# --------------------------------------------------------------------------------------------------- ONNX Runtime
def export_onnx(model: nn.Module, path: str | Path, batch: int = 1, imgsz: int | tuple[int, int] = 640,
                precision: str = "fp32", device: str | torch.device = "cpu", backend: str | None = None,
                opset: int | None = None, simplify: bool = True) -> Path:
    """Export ``model`` (static shape) to ONNX with Ultralytics' exporter function (``torch2onnx``, TorchScript-based
    ``torch.onnx.export``), outputs = ``primary_outputs``; optionally simplified with onnxslim as Ultralytics does.
    The file is written atomically."""
    import onnx
    from ultralytics.utils.export.engine import best_onnx_opset, torch2onnx

    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    device = torch.device(device)
    m = copy.deepcopy(model).to(device=device, dtype=PRECISIONS[precision]).eval()
    set_attention_backend(m, backend)
    wrapper = InferenceOutputs(m).eval()
    x = torch.zeros(batch, 3, h, w, device=device, dtype=PRECISIONS[precision])
    with torch.no_grad():
        n_out = len(wrapper(x))
    opset = opset or best_onnx_opset(onnx)
    path = Path(path)
    with atomic_path(path) as tmp, torch.no_grad(), contextlib.redirect_stdout(None):
        torch2onnx(wrapper, x, str(tmp), opset=opset, input_names=["images"],
                   output_names=[f"output{i}" for i in range(n_out)])
        if simplify:
            import onnxslim

            slim = onnxslim.slim(onnx.load(str(tmp)))
            onnx.save(slim, str(tmp))
    return path


ORT_NOTE = "ONNX Runtime runs its own graph (MatMul / Softmax nodes); no PyTorch attention operator runs"


def _ort_session(path: Path, ctx: CellContext):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = ctx.threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if ctx.device.type == "cuda":
        providers = [("CUDAExecutionProvider", {"device_id": ctx.device.index or 0}), "CPUExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    try:
        sess = ort.InferenceSession(str(path), sess_options=so, providers=providers)
    except Exception as e:  # noqa: BLE001
        if "NOT_IMPLEMENTED" in str(e) or "Could not find an implementation" in str(e):
            raise Unavailable(f"ONNX Runtime has no kernel for this graph in {ctx.precision}: "
                              f"{str(e).splitlines()[0][:300]}") from e
        raise
    if ctx.device.type == "cuda" and sess.get_providers()[0] != "CUDAExecutionProvider":
        raise Unavailable(f"ONNX Runtime did not take the CUDA EP (session providers: {sess.get_providers()})")
    return sess


def build_onnxruntime(model: nn.Module, ctx: CellContext) -> Prepared:
    import numpy as np

    onnx_file = ctx.options.get("artifact_file") or ctx.options.get("onnx_file")  # a file to time as it is
    t0 = time.perf_counter()
    if onnx_file:
        path = Path(onnx_file)
        exported = False
    else:
        path = ctx.workdir / f"{ctx.tag()}.onnx"
        exported = not path.exists()
        if exported:
            try:
                export_onnx(model, path, ctx.batch, ctx.imgsz, ctx.precision, ctx.device, ctx.backend,
                            ctx.options.get("opset"), ctx.options.get("simplify", True))
            except RuntimeError as e:
                if "not implemented for" in str(e):
                    raise Unavailable(f"ONNX export in {ctx.precision} on {ctx.device.type}: {e}") from e
                raise
    export_s = time.perf_counter() - t0
    sess = _ort_session(path, ctx)
    in_name = sess.get_inputs()[0].name
    out_names = [o.name for o in sess.get_outputs()]
    info = {"onnx_file": str(path), "providers": sess.get_providers(), "export_s": round(export_s, 2),
            "exported": exported, "intra_op_threads": ctx.threads,
            "sha256": file_sha256(path)}  # the timed file's identity (yolov12.evaluate.artifact.mark_cells)

    if ctx.device.type == "cpu":
        def fn(x):
            outs = sess.run(out_names, {in_name: x.detach().contiguous().numpy()})
            return tuple(torch.from_numpy(o) for o in outs)

        return Prepared(fn=fn, sync=None, timer="perf_counter", info=info, opaque=True, kernel_note=ORT_NOTE)

    # CUDA: bind torch tensors (no host copies); output buffers sized by one plain run
    idx = ctx.device.index or 0
    probe = sess.run(out_names, {in_name: torch.zeros(ctx.input_shape(), dtype=ctx.dtype).numpy()})
    outs = [torch.empty(o.shape, dtype=ctx.dtype if o.dtype != np.float32 else torch.float32, device=ctx.device)
            for o in probe]
    binding = sess.io_binding()
    np_dtype = {torch.float32: np.float32, torch.float16: np.float16}[ctx.dtype]

    def fn(x):
        x = x.contiguous()
        binding.bind_input(in_name, "cuda", idx, np_dtype, tuple(x.shape), x.data_ptr())
        for name, o in zip(out_names, outs):
            binding.bind_output(name, "cuda", idx, np.float16 if o.dtype == torch.float16 else np.float32,
                                tuple(o.shape), o.data_ptr())
        sess.run_with_iobinding(binding)
        return tuple(outs)

    return Prepared(fn=fn, sync=_torch_sync(ctx.device), timer="perf_counter", info=info, opaque=True,
                    kernel_note=ORT_NOTE)


# ----------------------------------------------------------------------------------------------------- TensorRT
def build_tensorrt(model: nn.Module, ctx: CellContext) -> Prepared:
    """TensorRT engine built by Ultralytics' exporter (format='engine'), run through Ultralytics' AutoBackend."""
    reason = check_static(ctx.device, ctx.precision, "tensorrt", ctx.backend)
    if reason:
        raise Unavailable(reason)
    from ultralytics.engine.exporter import Exporter
    from ultralytics.nn.autobackend import AutoBackend

    t0 = time.perf_counter()
    if ctx.options.get("artifact_file"):  # an engine the workflow's export job built and scored: time it as it is
        engine = ctx.options["artifact_file"]
    else:
        m = copy.deepcopy(model).float().eval()
        set_attention_backend(m, ctx.backend)
        m.pt_path = str(ctx.workdir / f"{ctx.tag()}.pt")  # the exporter names its output after this
        m.args = {**(getattr(m, "args", None) or {}), "imgsz": list(ctx.imgsz)}
        exporter = Exporter(overrides={"format": "engine", "imgsz": list(ctx.imgsz), "batch": ctx.batch,
                                       "half": ctx.precision == "fp16", "device": str(ctx.device.index or 0),
                                       "simplify": True, "verbose": False, "dynamic": False})
        engine = exporter(model=m)
    export_s = time.perf_counter() - t0
    backend = AutoBackend(engine, device=ctx.device, fp16=ctx.precision == "fp16", verbose=False)

    def run(x):
        out = backend(x)
        return primary_outputs(out if isinstance(out, (list, tuple)) else [out])

    return Prepared(fn=run, sync=_torch_sync(ctx.device), timer="perf_counter",
                    info={"engine": str(engine), "export_s": round(export_s, 2), "sha256": file_sha256(engine)},
                    opaque=True,
                    kernel_note="TensorRT runs its own engine; no fused attention kernel name seen")


def register_runtime(name: str, builder: Callable[[nn.Module, CellContext], Prepared] | str) -> None:
    """Add a runtime (e.g. an experimental exporter) to the matrix; the cell's ``runtime`` column carries ``name``.

    Forwards to ``yolov12.registry.register_runtime``: the name becomes a choice of ``yolov12 latency --runtime``.
    """
    registry.register_runtime(name, builder)
