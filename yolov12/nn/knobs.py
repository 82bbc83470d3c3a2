"""The architecture knobs of a YOLOv12 model, validated in one place.

A model definition (YAML) carries a ``knobs:`` mapping; every value here has a default that reproduces the paper's
v1.0 model, so a definition (or an ablation variant) only states what it changes. ``None`` means "whatever the
model definition says for this layer" (e.g. the area count written in the YAML row, the MLP ratio Ultralytics'
parser gives L/X scales).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import Any

BACKENDS = ("naive", "sdpa", "flash_attn", "auto")
PE_KERNELS = (0, 3, 5, 7, 9)
POS_EMBEDS = ("none", "ape", "rpe")
ATTN_IMPLS = ("conv_bn", "conv_ln", "linear_bn", "linear_ln")
QKV_LAYOUTS = ("fused", "split")
AGGREGATIONS = ("relan", "elan")
RESIDUALS = ("auto", "on", "off")


class KnobError(ValueError):
    """A knob has an unknown name or a value outside its allowed set."""


@dataclasses.dataclass(frozen=True)
class Knobs:
    """Resolved architecture knobs (see README, "Model knobs")."""

    area: int | None = None  # area count l for attention layers defined with l > 1; 1 = global attention
    head_dim: int = 32  # channels per attention head (heads = hidden channels // head_dim)
    backend: str = "auto"  # attention kernel
    pe_kernel: int = 7  # position perceiver: depthwise k x k conv on V; 0 = off
    pos_embed: str = "none"  # none | ape (absolute, learned) | rpe (relative bias inside each area)
    attn_impl: str = "conv_bn"  # projection type + normalisation of q/k/v and output projections
    qkv_layout: str = "fused"  # fused: one qkv conv (v1.0, Ultralytics); split: qk conv + v conv (turbo)
    mlp_ratio: float | None = None  # MLP hidden ratio of attention blocks; None = parser default (2.0; 1.2 for L/X)
    aggregation: str = "relan"  # relan: transition -> blocks -> concat; elan: C2f-style split aggregation
    residual: str = "auto"  # block-level residual with layer scale; auto = on for L/X attention stages only
    layer_scale: float = 0.01  # initial value of the per-channel residual scale ("scaling" in paper Table 2)

    def __post_init__(self):
        def check(name, value, allowed):
            if value not in allowed:
                raise KnobError(f"knob '{name}' = {value!r} is not allowed; allowed values: {list(allowed)}")

        if self.area is not None and (not isinstance(self.area, int) or isinstance(self.area, bool) or self.area < 1):
            raise KnobError(f"knob 'area' = {self.area!r} must be a positive integer (1 = global attention) or null")
        if not isinstance(self.head_dim, int) or self.head_dim < 1:
            raise KnobError(f"knob 'head_dim' = {self.head_dim!r} must be a positive integer")
        check("backend", self.backend, BACKENDS)
        check("pe_kernel", self.pe_kernel, PE_KERNELS)
        check("pos_embed", self.pos_embed, POS_EMBEDS)
        check("attn_impl", self.attn_impl, ATTN_IMPLS)
        check("qkv_layout", self.qkv_layout, QKV_LAYOUTS)
        check("aggregation", self.aggregation, AGGREGATIONS)
        check("residual", self.residual, RESIDUALS)
        if self.mlp_ratio is not None and not (isinstance(self.mlp_ratio, (int, float)) and self.mlp_ratio > 0):
            raise KnobError(f"knob 'mlp_ratio' = {self.mlp_ratio!r} must be a positive number or null")
        if not (isinstance(self.layer_scale, (int, float)) and self.layer_scale > 0):
            raise KnobError(f"knob 'layer_scale' = {self.layer_scale!r} must be a positive number")
        if self.backend == "flash_attn" and self.pos_embed == "rpe":
            raise KnobError("knob 'pos_embed' = 'rpe' needs an additive attention bias, which backend 'flash_attn' "
                            "does not take; use backend 'sdpa', 'naive' or 'auto'")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any] | None, where: str = "knobs") -> Knobs:
        """Build from a mapping, naming the offending key on error. ``None`` values keep the default."""
        mapping = dict(mapping or {})
        unknown = sorted(set(mapping) - set(cls.names()))
        if unknown:
            raise KnobError(f"{where}: unknown knob(s) {unknown}; known knobs: {cls.names()}")
        return cls(**{k: v for k, v in mapping.items() if v is not None or k in ("area", "mlp_ratio")})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def changed(self) -> dict[str, Any]:
        """Only the knobs that differ from the defaults: a variant's delta."""
        base = Knobs()
        return {k: v for k, v in self.as_dict().items() if getattr(base, k) != v}


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
