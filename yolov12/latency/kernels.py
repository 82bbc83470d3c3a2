"""Attention kernels: the backend a cell asks for (setting) and the kernel that actually ran (detected).

Setting. A cell's ``backend`` is a value of the model's ``backend`` knob (naive, sdpa, flash_attn, auto, ...) or
one of ``HARNESS_BACKENDS``: ``sdpa_noflash`` is imposed here, while the knob does not offer it, by setting the
knob to ``sdpa`` and holding ``torch.nn.attention.sdpa_kernel`` (flash disabled; memory-efficient, cuDNN and math
allowed) around the whole cell: build, correctness gate, kernel detection and timing. Once the knob offers
``sdpa_noflash`` itself, the knob is set and nothing is imposed: both restrict SDPA the same way.

Detection. ``detect_kernel`` runs one warm forward under ``torch.profiler`` (CPU, plus CUDA kernels on a GPU) and
maps the event names to a kernel label (``names.KERNEL_PATTERNS``): ``sdpa_flash``, ``sdpa_flash_cpu``,
``sdpa_efficient``, ``sdpa_cudnn``, ``sdpa_math``, ``flash_attn`` (the flash-attn package), ``fused_mha``
(TensorRT), or ``naive_softmax`` (an explicit softmax inside an attention module, found through
``record_function`` ranges that forward hooks open around every attention module). Several labels (layers that
took different kernels) are joined with ``+``. ``None`` with a ``kernel_note`` when nothing is visible (ONNX Runtime
runs its own graph; a compiled graph may fuse the attention into generated code).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable

import torch
import torch.nn as nn

from .names import HARNESS_BACKENDS, KERNEL_PATTERNS, NAIVE_KERNEL, SOFTMAX_OPS, backends, knob_backends

ATTN_RANGE = "yolov12.attention"


def check_backend(backend: str | None) -> None:
    from ..errors import UserError

    if backend is not None and backend not in backends():
        raise UserError(f"attention backend {backend!r} is not known", key="backend", allowed=backends())


def knob_value(backend: str | None) -> str | None:
    """The value the modules' ``backend`` knob gets for a cell's backend (sdpa_noflash -> sdpa while imposed)."""
    check_backend(backend)
    return "sdpa" if backend in HARNESS_BACKENDS and backend not in knob_backends() else backend


def imposed(backend: str | None) -> bool:
    """Whether the harness imposes this backend around the cell (rather than the knob implementing it)."""
    return backend in HARNESS_BACKENDS and backend not in knob_backends()


@contextlib.contextmanager
def backend_context(backend: str | None):
    """The restriction a harness-imposed backend needs for the duration of a cell (nothing otherwise)."""
    if not imposed(backend):
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    allowed = [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH]
    with sdpa_kernel(allowed):
        yield


@contextlib.contextmanager
def _quiet_fd2():
    """The profiler's C++ library logs its start / stop lines straight to file descriptor 2: silence them."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _label(name: str) -> str | None:
    for label, fragments in KERNEL_PATTERNS:
        if any(f in name for f in fragments):
            return label
    return None


def _inside(event, name: str) -> bool:
    parent = getattr(event, "cpu_parent", None)
    while parent is not None:
        if parent.name == name:
            return True
        parent = getattr(parent, "cpu_parent", None)
    return False


def _range_hooks(modules: Iterable[nn.Module]) -> list:
    """Forward pre/post hooks that open and close a ``record_function`` range around each attention module."""
    handles, open_ranges = [], []

    def pre(mod, args):
        rf = torch.profiler.record_function(ATTN_RANGE)
        rf.__enter__()
        open_ranges.append(rf)

    def post(mod, args, out):
        if open_ranges:
            open_ranges.pop().__exit__(None, None, None)

    for m in modules:
        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    return handles


def detect_kernel(fn: Callable[[], object], device: torch.device, attention: Iterable[nn.Module] = (),
                  opaque_note: str | None = None) -> dict:
    """Run ``fn`` once under torch.profiler; return ``{"kernel", "kernel_ops", "kernel_note"}``.

    attention: the attention modules ``fn`` runs eagerly (their ranges find an explicit softmax); empty for a
    compiled or exported runtime. opaque_note: the note when no attention operator is visible.
    """
    from torch.profiler import ProfilerActivity, profile

    attention = list(attention)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    handles = _range_hooks(attention)
    try:
        with _quiet_fd2(), profile(activities=activities) as prof:
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
    finally:
        for h in handles:
            h.remove()
    labels: dict[str, set[str]] = {}
    softmax_in_attention = set()
    for e in prof.events():
        label = _label(e.name)
        if label is not None:
            labels.setdefault(label, set()).add(e.name)
        elif e.name in SOFTMAX_OPS and attention and _inside(e, ATTN_RANGE):
            softmax_in_attention.add(e.name)
    if not labels and softmax_in_attention:
        labels[NAIVE_KERNEL] = softmax_in_attention
    if not labels:
        return {"kernel": None, "kernel_ops": [], "kernel_note": opaque_note or
                "no attention operator seen by torch.profiler in one forward"}
    ops = sorted({n[:120] for names in labels.values() for n in names})
    return {"kernel": "+".join(sorted(labels)), "kernel_ops": ops[:12], "kernel_note": ""}
