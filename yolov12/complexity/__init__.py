"""Parameters and FLOPs in the paper's convention.

Paper convention (reproduces paper Tables 1 and 2 and the turbo README): GFLOPs = 2 x the multiply-accumulates of
every convolution and linear layer of the BN-fused model at the given input size, bias adds, normalisation,
activations and the attention matmuls (QK^T, AV) not counted. Parameters are reported both unfused (what
Ultralytics' YAML summary prints) and BN-fused (what the paper prints).
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

COUNTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fused(model: nn.Module) -> nn.Module:
    """A BN-fused copy (the original is left untouched)."""
    m = copy.deepcopy(model)
    return m.fuse(verbose=False) if hasattr(m, "fuse") else m


def conv_gflops(model: nn.Module, imgsz: int | tuple[int, int] = 640, channels: int = 3) -> float:
    """2 x conv/linear MACs of ``model`` as it is (fuse first for the paper's number) for one image."""
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    total = 0

    def hook(module, inputs, out):
        nonlocal total
        if isinstance(module, nn.ConvTranspose2d):  # every input pixel meets the whole kernel once
            x = inputs[0]
            total += x.numel() // x.shape[1] * module.in_channels * module.weight[0].numel()
        elif isinstance(module, nn.Linear):
            total += out.numel() * module.in_features
        else:  # (c_in / groups) * kh * kw multiply-accumulates per output element
            total += out.numel() * module.weight[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, COUNTED)]
    was_training = model.training
    try:
        model.eval()
        p = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros(1, channels, h, w, device=p.device, dtype=p.dtype))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return 2 * total / 1e9


def summary(model: nn.Module, imgsz: int | tuple[int, int] = 640) -> dict[str, float]:
    """Params (unfused, fused) and paper-convention GFLOPs of a model at ``imgsz``."""
    f = fused(model)
    return {
        "params": count_params(model),
        "params_fused": count_params(f),
        "gflops": conv_gflops(f, imgsz),
        "imgsz": imgsz if isinstance(imgsz, int) else list(imgsz),
    }
