"""The architecture knobs of a YOLOv12 model, validated in one place.

A model definition (YAML) carries a ``knobs:`` mapping; every value here has a default that reproduces the paper's
v1.0 model, so a definition (or an ablation variant) only states what it changes. ``None`` means "whatever the
model definition says for this layer" (e.g. the area count written in the YAML row, the MLP ratio Ultralytics'
parser gives L/X scales).

Light: imports neither torch nor Ultralytics (the workflow's parse resolves knobs).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import Any

from ..errors import UserError

# Attention kernel settings (docs/models.md, "Attention kernels"). What each one allows:
#   naive         explicit softmax(QK^T)V, the reference (and Ultralytics' order of operations)
#   sdpa_noflash  torch SDPA with its flash kernel disabled (efficient / cuDNN / math may run)
#   sdpa          torch SDPA, unrestricted (on sm80+ in fp16/bf16 this usually IS a flash kernel)
#   flash_attn    the flash-attn package (CUDA, sm80+); unavailable elsewhere -> BackendUnavailable
#   auto          flash_attn where it can run (installed, CUDA sm80+, fp16/bf16, no additive bias), else sdpa
BACKENDS = ("naive", "sdpa_noflash", "sdpa", "flash_attn", "auto")
PE_KERNELS = (0, 3, 5, 7, 9)
POS_EMBEDS = ("none", "ape", "rpe")
ATTN_IMPLS = ("conv_bn", "conv_ln", "linear_bn", "linear_ln")
QKV_LAYOUTS = ("fused", "split")
AGGREGATIONS = ("relan", "elan")
RESIDUALS = ("auto", "on", "off")
FLASH_ATTN_MIN_CAPABILITY = (8, 0)  # flash-attn 2 runs on Ampere (sm80) and newer; not on T4 (sm75) or V100 (sm70)


class KnobError(UserError):
    """A knob has an unknown name or a value outside its allowed set."""


class BackendUnavailable(KnobError):
    """The attention kernel setting cannot run here (flash-attn missing, CPU tensors, a GPU below sm80, a bias).

    ``reason`` is the one-line cause; a latency harness records the cell as unavailable with it.
    """

    def __init__(self, reason: str, backend: str = "flash_attn"):
        self.reason, self.backend = reason, backend
        super().__init__(f"attention backend {backend!r} is unavailable: {reason}", key="backend",
                         allowed=[b for b in BACKENDS if b != backend])


class AreaSizeError(KnobError):
    """A feature map's token count is not divisible by the area count of an attention layer."""


@dataclasses.dataclass(frozen=True)
class Knobs:
    """Resolved architecture knobs (see README, "Model knobs")."""

    area: int | None = None  # area count l for attention layers defined with l > 1; 1 = global attention
    head_dim: int = 32  # channels per attention head (heads = hidden channels // head_dim)
    backend: str = "auto"  # attention kernel setting (BACKENDS)
    pe_kernel: int = 7  # position perceiver: depthwise k x k conv on V; 0 = off
    pos_embed: str = "none"  # none | ape (absolute, learned) | rpe (relative bias inside each area)
    attn_impl: str = "conv_bn"  # projection type + normalisation of q/k/v and output projections
    qkv_layout: str = "fused"  # fused: one qkv conv (v1.0, Ultralytics); split: qk conv + v conv (turbo)
    mlp_ratio: float | None = None  # MLP hidden ratio of attention blocks; None = parser default (2.0; 1.2 for L/X)
    attn_width: float = 1.0  # hidden width of the attention stages x this (Table 5g at constant size); head grid
    aggregation: str = "relan"  # relan: transition -> blocks -> concat; elan: C2f-style split aggregation
    residual: str = "auto"  # block-level residual with layer scale; auto = on for L/X attention stages only
    layer_scale: float = 0.01  # initial value of the per-channel residual scale ("scaling" in paper Table 2)

    def __post_init__(self):
        def check(name, value, allowed):
            if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
                raise KnobError(f"{value!r} is not allowed", key=name, allowed=list(allowed))

        def positive_number(value) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0

        if self.area is not None and (not isinstance(self.area, int) or isinstance(self.area, bool) or self.area < 1):
            raise KnobError(f"{self.area!r} is not allowed", key="area",
                            allowed="a positive integer (1 = global attention) or null")
        if not isinstance(self.head_dim, int) or isinstance(self.head_dim, bool) or self.head_dim < 1:
            raise KnobError(f"{self.head_dim!r} is not allowed", key="head_dim", allowed="a positive integer")
        check("backend", self.backend, BACKENDS)
        check("pe_kernel", self.pe_kernel, PE_KERNELS)
        check("pos_embed", self.pos_embed, POS_EMBEDS)
        check("attn_impl", self.attn_impl, ATTN_IMPLS)
        check("qkv_layout", self.qkv_layout, QKV_LAYOUTS)
        check("aggregation", self.aggregation, AGGREGATIONS)
        check("residual", self.residual, RESIDUALS)
        if self.mlp_ratio is not None and not positive_number(self.mlp_ratio):
            raise KnobError(f"{self.mlp_ratio!r} is not allowed", key="mlp_ratio",
                            allowed="a positive number or null")
        if not positive_number(self.attn_width):
            raise KnobError(f"{self.attn_width!r} is not allowed", key="attn_width",
                            allowed="a positive number whose hidden widths are whole heads (see match_params)")
        if not positive_number(self.layer_scale):
            raise KnobError(f"{self.layer_scale!r} is not allowed", key="layer_scale", allowed="a positive number")
        if self.backend == "flash_attn" and self.pos_embed == "rpe":
            raise KnobError("'rpe' needs an additive attention bias, which backend 'flash_attn' does not take",
                            key="pos_embed", allowed=["none", "ape", "or another backend"])

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any] | None, where: str = "knobs") -> Knobs:
        """Build from a mapping, naming the offending key on error. ``None`` values keep the default."""
        mapping = dict(mapping or {})
        unknown = sorted(set(mapping) - set(cls.names()))
        if unknown:
            raise KnobError(f"unknown knob(s) {unknown}", file=where, allowed=[f"known knobs: {cls.names()}"])
        try:
            return cls(**{k: v for k, v in mapping.items() if v is not None or k in ("area", "mlp_ratio")})
        except KnobError as e:
            raise type(e)(e.what, file=where, key=e.key, allowed=e.allowed) from None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def changed(self) -> dict[str, Any]:
        """Only the knobs that differ from the defaults: a variant's delta."""
        base = Knobs()
        return {k: v for k, v in self.as_dict().items() if getattr(base, k) != v}


def attn_hidden(c2: int, e: float, knobs: Knobs) -> int:
    """Hidden width of an attention stage (R-ELAN with a2) whose output has ``c2`` channels, ``attn_width`` applied.

    The width must be a whole number of heads (head_dim channels each); otherwise the error names the attn_width
    values allowed at this stage. Shared by the modules and the torch-free shape checks, so both agree exactly.
    """
    base = int(c2 * e)  # Ultralytics' A2C2f hidden width
    if knobs.attn_width == 1 and (base < knobs.head_dim or base % knobs.head_dim):
        raise KnobError(f"{knobs.head_dim} does not divide the {base} hidden channels of an attention stage "
                        f"(c2={c2}, e={e})", key="head_dim", allowed=f"divisors of {base}")
    exact = base * knobs.attn_width
    hidden = round(exact)
    if abs(exact - hidden) > 1e-6 or hidden < knobs.head_dim or hidden % knobs.head_dim:
        step = knobs.head_dim / base
        grid = ", ".join(f"{k * step:g}" for k in range(1, int(2 / step) + 1))
        raise KnobError(f"{knobs.attn_width!r} gives {exact:g} hidden channels at an attention stage of {base} "
                        f"(not a whole number of {knobs.head_dim}-channel heads)", key="attn_width",
                        allowed=f"multiples of {knobs.head_dim}/{base}: {grid}")
    return hidden


_ACTIVE: contextvars.ContextVar[Knobs] = contextvars.ContextVar("yolov12_knobs", default=Knobs())


def active() -> Knobs:
    """Knobs in force while a model definition is being parsed (defaults outside a parse)."""
    return _ACTIVE.get()


@contextlib.contextmanager
def using(knobs: Knobs):
    token = _ACTIVE.set(knobs)
    try:
        yield knobs
    finally:
        _ACTIVE.reset(token)


def resolve(d: dict[str, Any], where: str = "model definition") -> Knobs:
    """Effective knobs of a model dict: defaults <- ``scale_knobs[scale]`` <- explicit ``knobs``."""
    scale = d.get("scale") or ""
    merged: dict[str, Any] = {}
    merged.update((d.get("scale_knobs") or {}).get(scale, {}) or {})
    merged.update({k: v for k, v in (d.get("knobs") or {}).items() if v is not None})
    return Knobs.from_mapping(merged, where=f"{where}: knobs")
