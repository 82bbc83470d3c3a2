"""Torch-free shape checks: the channels, strides and feature maps of a model definition, without building it.

The workflow's parse (and any config check) must refuse an image size that an attention layer cannot split before a
job starts, and must not import torch or Ultralytics to do so. This module reads the shipped definition (the same
YAML and knobs the real model is built from, through ``model_yaml``) and follows Ultralytics' parser rules for the
modules our definitions use: width scaling ``make_divisible(min(c2, max_channels) * width, 8)``, the R-ELAN hidden
width ``int(c2 * e)`` (``attn_width`` applied, whole heads only), and the spatial arithmetic of each layer.
``tests/test_shapes.py`` compares every number with the built models of every family, task, scale and hierarchy.

An *attention layer* here is every R-ELAN row with attention (``a2``); its ``area`` is the resolved area count (the
knob moves the rows written with l > 1), and a map of H x W = N tokens is split into ``area`` chunks of N / area
tokens, so N must be divisible by ``area``.

Ultralytics' rectangular validation pads each batch to ``ceil(ratio * imgsz / stride + 0.5) * stride`` on both sides
(``YOLODataset.set_rectangle`` with ``pad=0.5`` for val, ``stride`` the model's max stride, at least 32); see
``val_shapes``. With unknown aspect ratios every shape ``(stride*a, stride*b)`` with ``1 <= a <= b``, b fixed by
imgsz, can occur (``val_shapes_any_ratio``): at stride 16 the map is (2a x 2b), so an area count must divide 4*b,
and for every imgsz only the divisors of 4 are safe.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import UserError
from ..nn.knobs import KnobError, Knobs, attn_hidden

RELAN_NAMES = ("RELAN", "A2C2f")  # our module and the name the official / Ultralytics definitions use
HEADS = ("Detect", "Segment", "Pose", "OBB", "Classify")
VAL_PAD = 0.5  # Ultralytics' build_yolo_dataset: pad = 0.0 for train, 0.5 otherwise
MIN_GRID = 32  # trainers and validators use max(model stride, 32) as the batch grid


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    depth: float
    width: float
    max_channels: int


@dataclasses.dataclass(frozen=True)
class Layer:
    """One row of a definition as the parser builds it."""

    index: int
    module: str
    sources: tuple[int, ...]  # absolute indices of its inputs (-1 = the image)
    repeats: int  # after depth scaling
    channels: int  # output channels
    stride: int  # output stride relative to the image (1 for heads, which keep their inputs' strides)


@dataclasses.dataclass(frozen=True)
class AttnLayer:
    """An attention stage (R-ELAN row with attention): where its tokens are split and how wide it is."""

    index: int  # row of the definition (= index in the built model's layer list)
    stride: int  # its feature map is (H / stride) x (W / stride) for an input of H x W
    area: int  # resolved area count; 1 = global attention
    channels: int  # hidden width of its attention blocks
    heads: int  # channels / head_dim
    blocks: int  # attention blocks (2 per repeat)


def _make_divisible(x: float, divisor: int = 8) -> int:
    return math.ceil(x / divisor) * divisor


def _resolved(family: str, scale: str, task: str, hierarchy: str, knobs: dict[str, Any] | Knobs | None,
              nc: int | None = None) -> dict[str, Any]:
    from .definitions import model_yaml

    if isinstance(knobs, Knobs):
        knobs = knobs.changed()
    return model_yaml(family, scale, task, hierarchy, nc, **(knobs or {}))


def scale_of(d: dict[str, Any], scale: str) -> Scale:
    depth, width, max_channels = d["scales"][scale]
    return Scale(scale, float(depth), float(width), int(max_channels))


def layers(d: dict[str, Any], scale: str) -> list[Layer]:
    """Every row of a resolved definition ``d`` with its output channels and stride at ``scale``."""
    sc = scale_of(d, scale)
    out: list[Layer] = []
    ch = [3]  # input channels; ch[i + 1] = output channels of row i
    strides = [1]
    for i, (f, n, module, args) in enumerate(d["backbone"] + d["head"]):
        sources = tuple(i + s if s < 0 else s for s in (f if isinstance(f, list) else [f]))
        c_in = [ch[s + 1] for s in sources]
        s_in = [strides[s + 1] for s in sources]
        n = max(round(n * sc.depth), 1) if n > 1 else n
        if module in ("Conv", "C3k2", "ConvTranspose", *RELAN_NAMES):
            c2 = _make_divisible(min(args[0], sc.max_channels) * sc.width)
        elif module == "Concat":
            c2 = sum(c_in)
        elif module == "Classify":
            c2 = d["nc"]
        else:  # nn.Upsample and the detection heads keep their input channels for this purpose
            c2 = c_in[0]
        if module == "Conv":
            stride = s_in[0] * (args[2] if len(args) > 2 else 1)
        elif module == "ConvTranspose":
            stride = s_in[0] // (args[2] if len(args) > 2 else 2)
        elif module == "nn.Upsample":
            stride = s_in[0] // int(args[1])
        elif module in HEADS:
            stride = max(s_in)
        else:  # Concat of same-size maps, C3k2 and R-ELAN keep the stride
            stride = s_in[0]
        out.append(Layer(i, module, sources, n, c2, stride))
        ch.append(c2)
        strides.append(stride)
    return out


def _attention(d: dict[str, Any], scale: str, knobs: Knobs) -> list[AttnLayer]:
    found = []
    for layer, (_, _, _, args) in zip(layers(d, scale), d["backbone"] + d["head"], strict=True):
        if layer.module not in RELAN_NAMES or not (args[1] if len(args) > 1 else True):
            continue
        area = args[2] if len(args) > 2 else 1
        if knobs.area is not None and area > 1:
            area = knobs.area
        e = args[5] if len(args) > 5 else 0.5
        hidden = attn_hidden(layer.channels, e, knobs)
        found.append(AttnLayer(layer.index, layer.stride, area, hidden, hidden // knobs.head_dim, 2 * layer.repeats))
    return found


def attention_layers(family: str = "yolov12", scale: str = "n", task: str = "detect", hierarchy: str = "full",
                     knobs: dict[str, Any] | Knobs | None = None) -> list[AttnLayer]:
    """The attention stages of a model, in definition order; ``knobs`` as for ``model_yaml`` (a delta)."""
    d = _resolved(family, scale, task, hierarchy, knobs)
    return _attention(d, scale, Knobs.from_mapping(d["knobs"]))


def max_stride(d: dict[str, Any], scale: str) -> int:
    return max(layer.stride for layer in layers(d, scale))


def attn_width_grid(family: str = "yolov12", scale: str = "l", task: str = "detect", hierarchy: str = "full",
                    knobs: dict[str, Any] | None = None, upto: float = 2.0) -> list[float]:
    """Every ``attn_width`` value up to ``upto`` that gives whole heads at every attention stage of the model."""
    d = _resolved(family, scale, task, hierarchy, {k: v for k, v in (knobs or {}).items() if k != "attn_width"})
    kn = Knobs.from_mapping(d["knobs"])
    bases = {a.channels for a in _attention(d, scale, kn)}  # attn_width 1.0 widths
    if not bases:
        return [1.0]
    step = kn.head_dim / math.gcd(*bases)  # a multiple of it makes every stage a whole number of heads
    return [round(k * step, 12) for k in range(1, int(upto / step + 1e-9) + 1)]


# ------------------------------------------------------------------------------------------------ image sizes
def _as_sizes(value: tuple[int, int] | Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [value]
    return [tuple(v) for v in value]


def divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def check_model(family: str, scale: str, task: str, hierarchy: str, knobs: dict[str, Any] | Knobs | None,
                sizes: dict[str, tuple[int, int] | list[tuple[int, int]]], where: str) -> None:
    """Refuse, in one line naming ``where``, any use's image size that the model cannot run.

    ``sizes`` maps a use ("train", "val rect-padded", "latency", "export", ...) to one (H, W) or a list of them.
    Checked: every size is a multiple of the model's max stride, the attention widths are whole heads
    (channels % head_dim == 0, heads >= 1), and every attention layer's token count is divisible by its area
    count; the error names the use, the size, the feature map (H x W at stride s) and the area counts that divide
    the token counts of every size of that use.
    """
    try:
        d = _resolved(family, scale, task, hierarchy, knobs)
        attn = _attention(d, scale, Knobs.from_mapping(d["knobs"]))
    except KnobError as e:
        key = f"knobs.{e.key}" if e.key else None
        raise UserError(e.what, file=where, key=key, allowed=e.allowed) from None
    grid = max_stride(d, scale)
    for use, value in sizes.items():
        shapes = _as_sizes(value)
        for h, w in shapes:
            if h < grid or w < grid or h % grid or w % grid:
                raise UserError(f"{use} size {h}x{w} is not a multiple of the model's max stride {grid}", file=where,
                                allowed=f"multiples of {grid}")
        for a in attn:
            tokens = [(h // a.stride) * (w // a.stride) for h, w in shapes]
            bad = [(h, w) for (h, w), n in zip(shapes, tokens, strict=True) if n % a.area]
            if bad:
                h, w = bad[0]
                mh, mw = h // a.stride, w // a.stride
                allowed = divisors(math.gcd(*tokens))
                more = f" (and {len(bad) - 1} more {use} sizes)" if len(bad) > 1 else ""
                raise UserError(f"{use} size {h}x{w}{more}: the {mh}x{mw} feature map at stride {a.stride} (layer "
                                f"{a.index}) has {mh * mw} tokens, which the area count {a.area} does not divide",
                                file=where, key="area", allowed=f"area counts {allowed}")


def val_shapes(imgsz: int, image_hw: Iterable[tuple[int, int]], stride: int = 32, batch: int = 1,
               pad: float = VAL_PAD) -> list[tuple[int, int]]:
    """The padded (H, W) of each rectangular validation batch, as Ultralytics' ``YOLODataset.set_rectangle``.

    Images are sorted by aspect ratio h/w and cut into batches of ``batch``; a batch whose ratios are all < 1 gets
    shape (max ratio, 1), all > 1 gets (1, 1 / min ratio), a mixed batch (1, 1); each side becomes
    ``ceil(side * imgsz / stride + pad) * stride``. ``stride`` is the batch grid: ``max(model stride, 32)``.
    """
    ratios = sorted(h / w for h, w in image_hw)
    out = []
    for start in range(0, len(ratios), batch):
        chunk = ratios[start:start + batch]
        lo, hi = chunk[0], chunk[-1]
        shape = (hi, 1.0) if hi < 1 else (1.0, 1 / lo) if lo > 1 else (1.0, 1.0)
        out.append(tuple(math.ceil(s * imgsz / stride + pad) * stride for s in shape))
    return out


def val_shapes_any_ratio(imgsz: int, stride: int = 32, pad: float = VAL_PAD) -> list[tuple[int, int]]:
    """Every padded validation shape that some aspect ratio can produce at ``imgsz`` (both orientations).

    The long side is always ``ceil(imgsz / stride + pad) * stride`` = stride * b; the short side any stride * a with
    1 <= a <= b. A check over this list holds for every real dataset.
    """
    b = math.ceil(imgsz / stride + pad)
    return sorted({(stride * a, stride * b) for a in range(1, b + 1)} | {(stride * b, stride * a)
                                                                         for a in range(1, b + 1)})
