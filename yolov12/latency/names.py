"""The latency harness's vocabulary, defined once; no torch here (the CLI's parser and the workflow read it).

The device, precision and runtime lists live in ``yolov12.registry``; the attention backends are the values of the
model's ``backend`` knob (``yolov12.nn.knobs.BACKENDS``) plus the harness-side ``HARNESS_BACKENDS``.
"""

from __future__ import annotations

SCOPES = ("forward", "end2end")
STATUS = ("ok", "failed", "unavailable")
# the columns of latency.csv (docs/results-schema.md); a cell holds more (docs/latency.md, "Cell fields")
SCHEMA_COLUMNS = ("device", "device_name", "precision", "runtime", "attn_backend", "batch", "imgsz", "scope", "status",
                  "reason", "mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms", "std_ms", "cv", "throughput_ips",
                  "iters", "threads")
# backends the harness can impose when the model's knob does not offer them (yet): 'sdpa_noflash' is SDPA with its
# flash kernel disabled through torch.nn.attention.sdpa_kernel around every call of the cell
HARNESS_BACKENDS = ("sdpa_noflash",)

# the attention kernel that actually ran (cell field ``kernel``), from torch.profiler event names: (label, name
# fragments). Checked in this order for each event: the CPU flash op's name contains the CUDA one's, and PyTorch's
# own flash kernels ('pytorch_flash::flash_fwd...') contain the flash-attn package's ('flash::flash_fwd...').
KERNEL_PATTERNS = (
    ("sdpa_flash_cpu", ("_scaled_dot_product_flash_attention_for_cpu",)),
    ("sdpa_flash", ("_scaled_dot_product_flash_attention", "_flash_attention_forward", "pytorch_flash::")),
    ("sdpa_efficient", ("_scaled_dot_product_efficient_attention", "_efficient_attention_forward", "fmha_cutlass")),
    ("sdpa_cudnn", ("_scaled_dot_product_cudnn_attention", "_cudnn_attention_forward")),
    ("sdpa_math", ("_scaled_dot_product_attention_math",)),
    ("flash_attn", ("flash_attn::", "flash_attn_2_cuda", "flash_attn_gpu", "flash::flash_fwd")),
    ("fused_mha", ("fmha_v2", "_mha_v2", "mha_kernel")),  # TensorRT's fused multi-head attention kernels
)
# explicit softmax inside an attention module, no SDPA-family op: the 'naive' backend
NAIVE_KERNEL = "naive_softmax"
SOFTMAX_OPS = ("aten::softmax", "aten::_softmax", "aten::_safe_softmax")
KERNELS = tuple(label for label, _ in KERNEL_PATTERNS) + (NAIVE_KERNEL,)


def knob_backends() -> tuple[str, ...]:
    """The values of the model's ``backend`` knob (``yolov12.nn.knobs`` is light: no torch)."""
    from ..nn.knobs import BACKENDS

    return tuple(BACKENDS)


def backends() -> tuple[str, ...]:
    """Every backend a cell may ask for: the knob's values, then the harness's own that the knob lacks."""
    knob = knob_backends()
    return knob + tuple(b for b in HARNESS_BACKENDS if b not in knob)
