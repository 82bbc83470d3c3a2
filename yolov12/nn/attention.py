"""Area attention (paper Sec. 3.2) with every knob of the paper's ablations as a constructor argument.

With default arguments, ``AreaAttention`` has the parameter names and shapes of Ultralytics' ``AAttn`` (``qkv``,
``proj``, ``pe``) and computes the same function, so YOLO12 checkpoints load with ``strict=True``.

Layout: the feature map (B, C, H, W) is flattened row-major into N = H*W tokens; with ``area = l`` the sequence is cut
into l contiguous chunks of N/l tokens (horizontal stripes when l divides H) and attention runs inside each chunk.
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn as nn
import torch.nn.functional as F
from ultralytics.nn.modules.conv import Conv

from .knobs import (
    ATTN_IMPLS,
    BACKENDS,
    FLASH_ATTN_MIN_CAPABILITY,
    PE_KERNELS,
    POS_EMBEDS,
    QKV_LAYOUTS,
    AreaSizeError,
    BackendUnavailable,
    KnobError,
)

FLASH_ATTN_INSTALLED = importlib.util.find_spec("flash_attn") is not None
APE_GRID = 16  # learned absolute embedding is a 16x16 grid, resized bilinearly to each feature map
RPE_MAX_OFFSET = 8  # relative offsets are clipped to [-8, 8] rows/columns: a (17*17)-entry bias table per head


def _check(name, value, allowed):
    if value not in allowed:
        raise KnobError(f"{value!r} is not allowed", key=name, allowed=list(allowed))


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel dimension of a (B, C, H, W) map."""

    def __init__(self, c: int):
        super().__init__()
        self.ln = nn.LayerNorm(c)

    def forward(self, x):
        return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Projection(nn.Module):
    """A 1x1 projection of a (B, C, H, W) map, in one of the four forms of paper Table 5(a).

    conv_bn is Ultralytics' ``Conv(act=False)`` itself (so it is BN-fused by ``model.fuse()`` and keeps its parameter
    names); conv_ln is a bias-free 1x1 conv + LayerNorm over channels; linear_* apply ``nn.Linear`` to the token
    sequence followed by BatchNorm1d or LayerNorm.
    """

    def __init__(self, c1: int, c2: int, impl: str = "conv_bn"):
        super().__init__()
        _check("attn_impl", impl, ATTN_IMPLS)
        self.impl = impl
        if impl == "conv_bn":
            self.op = Conv(c1, c2, 1, act=False)
        elif impl == "conv_ln":
            self.op = nn.Sequential(nn.Conv2d(c1, c2, 1, bias=False), ChannelLayerNorm(c2))
        else:
            self.linear = nn.Linear(c1, c2, bias=False)
            self.norm = nn.BatchNorm1d(c2) if impl == "linear_bn" else nn.LayerNorm(c2)

    def forward(self, x):
        if self.impl.startswith("conv"):
            return self.op(x)
        b, _, h, w = x.shape
        t = self.linear(x.flatten(2).transpose(1, 2))  # (B, N, C2)
        t = self.norm(t.transpose(1, 2)).transpose(1, 2) if self.impl == "linear_bn" else self.norm(t)
        return t.transpose(1, 2).reshape(b, -1, h, w)


def projection(c1: int, c2: int, impl: str) -> nn.Module:
    """conv_bn returns the bare Ultralytics Conv so parameter names match AAttn (``qkv.conv.weight``, ``qkv.bn.*``)."""
    return Conv(c1, c2, 1, act=False) if impl == "conv_bn" else Projection(c1, c2, impl)


def flash_attn_unavailable(device: torch.device | str, dtype: torch.dtype | None = None,
                           has_bias: bool = False) -> str | None:
    """Why the flash-attn package cannot run attention on ``device`` (None: it can).

    ``dtype`` None or fp32 is not a reason: backend ``flash_attn`` casts fp32 inputs to fp16 as the official code
    does (only ``auto`` avoids that, see ``resolve_backend``).
    """
    device = torch.device(device)
    if not FLASH_ATTN_INSTALLED:
        return "the flash-attn package is not installed (pip install -e '.[flash]', CUDA only)"
    if device.type != "cuda":
        return f"flash-attn runs on CUDA tensors only, not on {device.type}"
    capability = torch.cuda.get_device_capability(device)
    if capability < FLASH_ATTN_MIN_CAPABILITY:
        need = ".".join(map(str, FLASH_ATTN_MIN_CAPABILITY))
        return (f"flash-attn needs compute capability {need}+ (Ampere or newer); "
                f"{torch.cuda.get_device_name(device)} is sm{capability[0]}{capability[1]}")
    if has_bias:
        return "flash-attn takes no additive attention bias (pos_embed 'rpe')"
    if dtype is not None and dtype not in (torch.float16, torch.bfloat16, torch.float32):
        return f"flash-attn takes fp16 / bf16 inputs, not {dtype}"
    return None


def resolve_backend(backend: str, x: torch.Tensor, has_bias: bool) -> str:
    """The kernel setting a call uses: ``auto`` takes flash-attn where it can run on ``x`` in its own precision
    (installed, CUDA sm80+, fp16/bf16, no bias), else SDPA; so ``auto`` never changes an fp32 model's precision."""
    if backend != "auto":
        return backend
    if x.dtype in (torch.float16, torch.bfloat16) and flash_attn_unavailable(x.device, x.dtype, has_bias) is None:
        return "flash_attn"
    return "sdpa"


def _sdpa_noflash():
    """``sdpa_kernel`` context allowing every SDPA backend except flash (efficient, cuDNN, math).

    The restriction is torch's own: the context sets the process's SDPA backend flags for its duration and restores
    them on exit, so it holds for this call only (another thread's SDPA call in the same window sees it too).
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH])


def attend(q, k, v, backend: str, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax attention on (B, heads, N, head_dim) tensors with the chosen kernel; returns the same layout."""
    scale = q.shape[-1] ** -0.5
    if backend == "naive":
        # explicit reference: the order of operations of Ultralytics' AAttn, so the default model is bit-exact
        attn = (q * scale) @ k.transpose(-2, -1)
        if bias is not None:
            attn = attn + bias
        return attn.softmax(dim=-1) @ v
    if backend in ("sdpa", "sdpa_noflash"):
        mask = None if bias is None else bias.to(q.dtype)
        if not q.is_cuda:  # q/k/v are strided views of the qkv projection; CPU SDPA is 1.5-1.9x faster on copies
            q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        if backend == "sdpa":
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        with _sdpa_noflash():
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    if backend == "flash_attn":
        reason = flash_attn_unavailable(q.device, q.dtype, bias is not None)
        if reason:
            raise BackendUnavailable(reason)
        from flash_attn import flash_attn_func

        dtype = q.dtype
        half = dtype if dtype in (torch.float16, torch.bfloat16) else torch.float16  # official: .half() on fp32
        out = flash_attn_func(*(t.transpose(1, 2).contiguous().to(half) for t in (q, k, v)))  # (B, N, H, D)
        return out.transpose(1, 2).to(dtype)
    raise KnobError(f"{backend!r} is not allowed", key="backend", allowed=list(BACKENDS))


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


class AreaAttention(nn.Module):
    """Multi-head self-attention inside ``area`` contiguous chunks of the token sequence.

    Args:
        dim: channels of the input and output.
        num_heads: attention heads (dim must be divisible by it).
        area: area count l; 1 = global attention.
        backend: naive | sdpa_noflash | sdpa | flash_attn | auto (docs/models.md, "Attention kernels").
        pe_kernel: position perceiver (depthwise conv on V) kernel; 0 disables it.
        pos_embed: none | ape | rpe.
        attn_impl: conv_bn | conv_ln | linear_bn | linear_ln (projections of q/k/v and of the output).
        qkv_layout: fused (one qkv projection, heads interleaved as in Ultralytics) | split (qk and v projections,
            as in the official turbo release).
    """

    # Set by yolov12.nn.integration around Ultralytics' build-time stride probe (a zero 256x256 image): (H, W) of
    # that probe while it runs, else None. feature_stride: this layer's stride, learnt from the probe (None: unknown).
    _probe_hw: tuple[int, int] | None = None
    feature_stride: int | None = None

    def __init__(self, dim: int, num_heads: int, area: int = 1, backend: str = "auto", pe_kernel: int = 7,
                 pos_embed: str = "none", attn_impl: str = "conv_bn", qkv_layout: str = "fused"):
        super().__init__()
        if not isinstance(area, int) or isinstance(area, bool) or area < 1:
            raise KnobError(f"{area!r} is not allowed", key="area", allowed="a positive integer (1 = global)")
        if num_heads < 1 or dim % num_heads:
            raise KnobError(f"{num_heads} does not divide dim = {dim}", key="num_heads", allowed=divisors(dim))
        _check("backend", backend, BACKENDS)
        _check("pe_kernel", pe_kernel, PE_KERNELS)
        _check("pos_embed", pos_embed, POS_EMBEDS)
        _check("qkv_layout", qkv_layout, QKV_LAYOUTS)
        if backend == "flash_attn" and pos_embed == "rpe":
            raise KnobError("'rpe' needs an additive attention bias, which backend 'flash_attn' does not take",
                            key="pos_embed", allowed=["none", "ape", "or another backend"])
        self.area, self.num_heads, self.backend = area, num_heads, backend
        self.head_dim = dim // num_heads
        self.all_head_dim = dim
        self.qkv_layout, self.pos_embed_kind = qkv_layout, pos_embed
        if qkv_layout == "fused":
            self.qkv = projection(dim, dim * 3, attn_impl)
        else:
            self.qk = projection(dim, dim * 2, attn_impl)
            self.v = projection(dim, dim, attn_impl)
        self.proj = projection(dim, dim, attn_impl)
        self.pe = Conv(dim, dim, pe_kernel, 1, pe_kernel // 2, g=dim, act=False) if pe_kernel else None
        if pos_embed == "ape":
            self.ape = nn.Parameter(torch.zeros(1, dim, APE_GRID, APE_GRID))
            nn.init.trunc_normal_(self.ape, std=0.02)
        elif pos_embed == "rpe":
            side = 2 * RPE_MAX_OFFSET + 1
            self.rpe_table = nn.Parameter(torch.zeros(num_heads, side * side))
            nn.init.trunc_normal_(self.rpe_table, std=0.02)
        self._rpe_index_cache: dict[tuple[int, int, int, str], torch.Tensor] = {}

    def extra_repr(self) -> str:
        return (f"area={self.area}, heads={self.num_heads}, backend={self.backend}, "
                f"pos_embed={self.pos_embed_kind}, qkv_layout={self.qkv_layout}")

    def _rpe_bias(self, h: int, w: int, area: int, device) -> torch.Tensor:
        """(area, heads, n, n) additive bias from clipped 2-D offsets between tokens of the same area."""
        key = (h, w, area, str(device))
        index = self._rpe_index_cache.get(key)
        if index is None:
            t = torch.arange(h * w, device=device)
            yx = torch.stack((t // w, t % w), -1).view(area, -1, 2)  # token coordinates, per area
            rel = (yx[:, :, None, :] - yx[:, None, :, :]).clamp(-RPE_MAX_OFFSET, RPE_MAX_OFFSET) + RPE_MAX_OFFSET
            index = rel[..., 0] * (2 * RPE_MAX_OFFSET + 1) + rel[..., 1]  # (area, n, n)
            self._rpe_index_cache[key] = index
        return self.rpe_table[:, index].permute(1, 0, 2, 3)

    def _refuse_size(self, h: int, w: int, area: int):
        at = f" (stride {self.feature_stride})" if self.feature_stride else ""
        raise AreaSizeError(f"a {h}x{w} feature map{at} has {h * w} tokens, which the area count l={area} does not "
                            f"divide; choose an image size whose map it divides, or an area count that divides "
                            f"{h * w}", key="area", allowed=divisors(h * w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        N, l = H * W, self.area
        if self._probe_hw is not None:
            self.feature_stride = self._probe_hw[0] // H
        if N % l:
            if self._probe_hw is not None:
                l = 1  # Ultralytics' stride probe needs only output shapes: a map l does not divide runs global
            else:
                self._refuse_size(H, W, l)
        if self.pos_embed_kind == "ape":
            x = x + F.interpolate(self.ape, size=(H, W), mode="bilinear", align_corners=False)
        n, heads, hd = N // l, self.num_heads, self.head_dim
        if self.qkv_layout == "fused":
            # Ultralytics channel order: per head [q | k | v], heads consecutive
            qkv = self.qkv(x).flatten(2).transpose(1, 2).reshape(B * l, n, heads, 3 * hd).transpose(1, 2)
            q, k, v = qkv.split([hd, hd, hd], dim=-1)  # each (B*l, heads, n, hd)
        else:
            qk = self.qk(x).flatten(2).transpose(1, 2).reshape(B * l, n, 2, heads, hd)
            q, k = qk.permute(2, 0, 3, 1, 4).unbind(0)
            v = self.v(x).flatten(2).transpose(1, 2).reshape(B * l, n, heads, hd).transpose(1, 2)
        bias = None
        if self.pos_embed_kind == "rpe":
            bias = self._rpe_bias(H, W, l, x.device)  # (l, heads, n, n), the same for every image
            bias = bias.unsqueeze(0).expand(B, -1, -1, -1, -1).reshape(B * l, heads, n, n)
        out = attend(q, k, v, resolve_backend(self.backend, x, bias is not None), bias)
        out = out.transpose(1, 2).reshape(B, H, W, C).permute(0, 3, 1, 2)
        if self.pe is not None:
            out = out + self.pe(v.transpose(1, 2).reshape(B, H, W, C).permute(0, 3, 1, 2))
        return self.proj(out)

