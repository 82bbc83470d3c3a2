"""What the harness needs to know about a model: its inference outputs, its attention modules and their backend
knob, the backend it resolves to, and an identity of its weights (for export caches)."""

from __future__ import annotations

import hashlib

import torch
import torch.nn as nn

from .kernels import knob_value


def primary_outputs(out) -> tuple[torch.Tensor, ...]:
    """The inference outputs of an Ultralytics model call as a flat tuple of tensors.

    In eval mode Ultralytics heads return ``(inference, raw)`` (``raw`` being the per-level dict for detection heads,
    the logits for classification); the inference part (a tensor, or [detections, prototypes] for segmentation) is
    what exporters emit and what the correctness gate compares.
    """
    if isinstance(out, (tuple, list)) and len(out) == 2:
        a, b = out
        if isinstance(b, dict):  # detection-family heads: (decoded, raw per-level dict)
            out = a
        elif isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dim() == 2 and a.shape == b.shape:
            out = a  # Classify: (probabilities, logits)
    flat: list[torch.Tensor] = []

    def walk(o):
        if isinstance(o, torch.Tensor):
            flat.append(o)
        elif isinstance(o, (tuple, list)):
            for v in o:
                walk(v)

    walk(out)
    if not flat:
        raise TypeError(f"model output {type(out).__name__} holds no tensor")
    return tuple(flat)


class InferenceOutputs(nn.Module):
    """Wraps a model so that it returns ``primary_outputs`` (what ONNX/TensorRT exports and the gate see)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return primary_outputs(self.model(x))


def attention_modules(model: nn.Module) -> list[nn.Module]:
    from ..nn.attention import AreaAttention

    return [m for m in model.modules() if isinstance(m, AreaAttention)]


def set_attention_backend(model: nn.Module, backend: str | None) -> int:
    """Set the ``backend`` knob of every AreaAttention module in place; returns how many were set.

    A harness-imposed backend (``sdpa_noflash`` while the knob lacks it) sets the knob it runs on (``sdpa``); the
    caller holds ``kernels.backend_context(backend)`` around the calls.
    """
    if backend is None:
        return 0
    value = knob_value(backend)
    mods = attention_modules(model)
    for m in mods:
        m.backend = value
    return len(mods)


def model_backend(model: nn.Module) -> str:
    """The backend knob the model's attention modules carry ('none' without AreaAttention, 'mixed' if they differ)."""
    names = {m.backend for m in attention_modules(model)}
    return "none" if not names else names.pop() if len(names) == 1 else "mixed"


def resolved_kernel(model: nn.Module, device: torch.device, backend: str | None = None,
                    dtype: torch.dtype = torch.float32) -> str | None:
    """The backend the model's attention resolves to on ``device`` in ``dtype`` with ``backend`` (None: its knob):
    ``auto`` resolved, as the model would. The kernel that actually runs is detected (``kernels.detect_kernel``)."""
    from ..nn.attention import resolve_backend

    mods = attention_modules(model)
    if not mods:
        return None
    m = mods[0]
    has_bias = getattr(m, "pos_embed_kind", "none") == "rpe"
    return resolve_backend(backend or m.backend, torch.empty(0, device=device, dtype=dtype), has_bias)


def weights_key(model: nn.Module) -> str:
    """Short hash of a model's parameters and buffers (names, shapes, a sample of values) for export caches."""
    h = hashlib.sha1()
    for name, t in list(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        if t.numel():
            flat = t.detach().flatten()
            h.update(flat[:: max(1, flat.numel() // 64)].float().cpu().numpy().tobytes())
    return h.hexdigest()[:12]
