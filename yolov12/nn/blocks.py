"""The attention block and R-ELAN, with the knobs of paper Tables 2, 5(g) and the turbo release.

Default arguments reproduce Ultralytics' ``ABlock`` / ``A2C2f`` (names, shapes and function). The positional
signature of ``RELAN`` is A2C2f's, because Ultralytics' YAML parser fills it (width scaling, repeats, and the
``residual=True, mlp_ratio=1.2`` it appends for L/X scales); knobs that the YAML row cannot express come from the
model definition's ``knobs:`` mapping (see ``knobs.using``). ``attn_width`` scales the hidden width of an attention
stage (transition conv output, every block, the concatenation) by a factor on the head grid, so paper Table 5(g)
can vary the MLP ratio at constant model size.

Importing this module registers RELAN with Ultralytics' parser (``register``, additive): a checkpoint
unpickled by a process that imported only ``ultralytics`` imports this module and can rebuild from its YAML.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from ultralytics.nn.modules.block import C3k
from ultralytics.nn.modules.conv import Conv

from . import knobs as K
from .attention import AreaAttention


class AttnBlock(nn.Module):
    """Area attention + MLP, each with a residual connection (Ultralytics ``ABlock``)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 1.2, area: int = 1, backend: str = "auto",
                 pe_kernel: int = 7, pos_embed: str = "none", attn_impl: str = "conv_bn", qkv_layout: str = "fused"):
        super().__init__()
        if not mlp_ratio > 0:
            raise K.KnobError(f"{mlp_ratio!r} is not allowed", key="mlp_ratio", allowed="a positive number")
        self.attn = AreaAttention(dim, num_heads, area, backend, pe_kernel, pos_embed, attn_impl, qkv_layout)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(Conv(dim, hidden, 1), Conv(hidden, dim, 1, act=False))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module):
        if isinstance(m, nn.Conv2d):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class RELAN(nn.Module):
    """Residual efficient layer aggregation (R-ELAN), Ultralytics' ``A2C2f`` generalised.

    aggregation='relan': transition 1x1 conv (c1 -> c_) -> n stages of 2 attention blocks (or a C3k when a2=False)
    -> concat of the transition output and every stage -> 1x1 conv to c2.
    aggregation='elan': the original ELAN/C2f split: a 1x1 conv to 2*c_ split in two halves, stages on the second,
    concat of both halves and every stage.
    With the residual on (attention stages only), the output is ``x + gamma * f(x)``, gamma a per-channel layer scale
    initialised to ``layer_scale``.
    """

    def __init__(self, c1: int, c2: int, n: int = 1, a2: bool = True, area: int = 1, residual: bool = False,
                 mlp_ratio: float = 2.0, e: float = 0.5, g: int = 1, shortcut: bool = True,
                 knobs: K.Knobs | None = None):
        super().__init__()
        kn = knobs or K.active()
        c_ = int(c2 * e)
        if a2:
            if kn.area is not None and area > 1:
                area = kn.area  # the knob moves the stages that use area attention; global stages stay global
            if kn.mlp_ratio is not None:
                mlp_ratio = kn.mlp_ratio
            residual = {"auto": bool(residual), "on": True, "off": False}[kn.residual]
            c_ = K.attn_hidden(c2, e, kn)  # attn_width applied; whole heads only
        else:
            residual = False
        if residual and c1 != c2:
            raise K.KnobError(f"'on' needs equal input and output channels of an attention stage, got c1={c1}, "
                              f"c2={c2}", key="residual", allowed=["auto", "off"])
        self.aggregation = kn.aggregation
        split = kn.aggregation == "elan"
        self.cv1 = Conv(c1, 2 * c_ if split else c_, 1, 1)
        self.cv2 = Conv((2 + n if split else 1 + n) * c_, c2, 1)
        self.gamma = nn.Parameter(kn.layer_scale * torch.ones(c2)) if residual else None
        attn_args = dict(backend=kn.backend, pe_kernel=kn.pe_kernel, pos_embed=kn.pos_embed,
                         attn_impl=kn.attn_impl, qkv_layout=kn.qkv_layout)
        self.m = nn.ModuleList(
            nn.Sequential(*(AttnBlock(c_, c_ // kn.head_dim, mlp_ratio, area, **attn_args) for _ in range(2)))
            if a2
            else C3k(c_, c_, 2, shortcut, g)
            for _ in range(n)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1)) if self.aggregation == "elan" else [self.cv1(x)]
        y.extend(m(y[-1]) for m in self.m)
        out = self.cv2(torch.cat(y, 1))
        if self.gamma is not None:
            return x + self.gamma.view(1, -1, 1, 1) * out
        return out


from .integration import install  # noqa: E402  (after the classes it installs)


def register() -> None:
    """Register our modules with Ultralytics' parser: done when this module is imported; idempotent."""
    install({"RELAN": RELAN})


register()
