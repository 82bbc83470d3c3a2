"""Area attention: backend equivalence, the area split, Ultralytics equivalence, clear errors."""

import pytest
import torch
from ultralytics.nn.modules.block import AAttn, ABlock

from yolov12.errors import UserError
from yolov12.nn import AreaAttention, AreaSizeError, AttnBlock, BackendUnavailable, KnobError
from yolov12.nn.attention import FLASH_ATTN_INSTALLED, flash_attn_unavailable, resolve_backend

VARIANTS = [
    dict(),
    dict(area=1),
    dict(area=8),
    dict(pe_kernel=0),
    dict(pe_kernel=3),
    dict(pos_embed="ape"),
    dict(pos_embed="rpe"),
    dict(pos_embed="rpe", area=1),
    dict(qkv_layout="split", pe_kernel=5),
    dict(attn_impl="conv_ln"),
    dict(attn_impl="linear_bn"),
    dict(attn_impl="linear_ln"),
]


def make(backend, seed=0, dim=64, heads=2, **kw):
    torch.manual_seed(seed)
    kw = {"area": 4, **kw}
    return AreaAttention(dim, heads, backend=backend, **kw).eval()


@pytest.mark.parametrize("backend", ["sdpa", "sdpa_noflash"])
@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_naive_and_sdpa_agree_fp32_cpu(kw, backend):
    x = torch.randn(2, 64, 16, 16)
    naive, sdpa = make("naive", **kw), make(backend, **kw)
    sdpa.load_state_dict(naive.state_dict())
    with torch.no_grad():
        diff = (naive(x) - sdpa(x)).abs().max().item()
    assert diff <= 1e-5, diff


def attention_ops(module, x):
    """aten attention / softmax op names one forward runs (the torch profiler's view)."""
    from torch.profiler import profile

    with torch.no_grad(), profile() as prof:
        module(x)
    return {e.name for e in prof.events() if "attention" in e.name or "softmax" in e.name}


def test_kernel_settings_choose_the_kernel_on_cpu():
    """sdpa lets torch pick its CPU flash kernel; sdpa_noflash rules it out (math runs); naive is explicit softmax."""
    x = torch.randn(1, 64, 8, 8)
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in attention_ops(make("sdpa"), x)
    noflash = attention_ops(make("sdpa_noflash"), x)
    assert "aten::_scaled_dot_product_attention_math" in noflash and not any("flash" in op for op in noflash)
    naive = attention_ops(make("naive"), x)
    assert "aten::softmax" in naive and not any("scaled_dot_product" in op for op in naive)


def test_sdpa_noflash_restriction_ends_with_the_call():
    flags = (torch.backends.cuda.flash_sdp_enabled, torch.backends.cuda.mem_efficient_sdp_enabled,
             torch.backends.cuda.math_sdp_enabled)
    before = [f() for f in flags]
    with torch.no_grad():
        make("sdpa_noflash")(torch.randn(1, 64, 8, 8))
    assert [f() for f in flags] == before and before[0]  # flash allowed again after the call


def test_area_attention_is_attention_inside_each_stripe():
    """l areas on an HxW map (H divisible by l) = global attention run on each H/l-row stripe separately."""
    torch.manual_seed(0)
    area4 = AreaAttention(64, 2, area=4, pe_kernel=0, backend="naive").eval()
    glob = AreaAttention(64, 2, area=1, pe_kernel=0, backend="naive").eval()
    glob.load_state_dict(area4.state_dict())
    x = torch.randn(1, 64, 16, 8)
    with torch.no_grad():
        expected = torch.cat([glob(s) for s in x.split(4, dim=2)], dim=2)
        got = area4(x)
        full = glob(x)
    assert torch.allclose(got, expected, atol=1e-6)
    assert not torch.allclose(got, full, atol=1e-3)  # and it is not global attention


@pytest.mark.parametrize("area", [1, 4])
def test_default_module_matches_ultralytics_aattn(area):
    torch.manual_seed(0)
    ref = AAttn(64, 2, area).eval()
    ours = AreaAttention(64, 2, area, backend="naive").eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 64, 16, 16)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-6


def test_default_block_matches_ultralytics_ablock():
    torch.manual_seed(0)
    ref = ABlock(64, 2, 1.2, 4).eval()
    ours = AttnBlock(64, 2, 1.2, 4).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-5


def test_token_count_not_divisible_by_area_is_a_clear_error():
    m = make("sdpa", area=4)
    with pytest.raises(AreaSizeError) as e:
        m(torch.randn(1, 64, 7, 7))
    assert str(e.value) == ("area: a 7x7 feature map has 49 tokens, which the area count l=4 does not divide; choose "
                            "an image size whose map it divides, or an area count that divides 49; allowed: 1, 7, 49")
    assert isinstance(e.value, UserError)


@pytest.mark.parametrize("kw, match", [
    (dict(area=0), "area"), (dict(pe_kernel=2), "pe_kernel"), (dict(backend="xformers"), "backend"),
    (dict(pos_embed="rope"), "pos_embed"), (dict(attn_impl="linear"), "attn_impl"),
    (dict(backend="flash_attn", pos_embed="rpe"), "rpe"),
])
def test_bad_constructor_arguments(kw, match):
    with pytest.raises(KnobError, match=match):
        AreaAttention(64, 2, **kw)


def test_heads_must_divide_dim():
    with pytest.raises(KnobError, match="num_heads"):
        AreaAttention(64, 3)


@pytest.mark.skipif(FLASH_ATTN_INSTALLED, reason="flash-attn is installed")
def test_flash_attn_backend_without_package_says_how_to_get_it():
    m = make("flash_attn")
    with pytest.raises(BackendUnavailable, match=r"flash-attn package is not installed \(pip install"):
        m(torch.randn(1, 64, 8, 8))


def test_flash_attn_on_cpu_is_unavailable_with_a_reason_a_harness_can_record():
    with pytest.raises(BackendUnavailable) as e:
        make("flash_attn")(torch.randn(1, 64, 8, 8))
    assert isinstance(e.value, KnobError) and e.value.reason == flash_attn_unavailable("cpu")
    assert "\n" not in str(e.value) and str(e.value).startswith("backend: attention backend 'flash_attn' is "
                                                                 "unavailable: ")


def test_auto_never_picks_flash_attn_on_cpu_or_in_fp32():
    assert resolve_backend("auto", torch.empty(0), False) == "sdpa"
    assert resolve_backend("auto", torch.empty(0, dtype=torch.float16), False) == "sdpa"  # CPU


def test_auto_backend_runs_on_cpu():
    x = torch.randn(1, 64, 8, 8)
    a, s = make("auto"), make("sdpa")
    s.load_state_dict(a.state_dict())
    with torch.no_grad():
        assert torch.equal(a(x), s(x))  # auto = sdpa on CPU


def test_gradients_flow_through_every_backend_on_cpu():
    for backend in ("naive", "sdpa", "sdpa_noflash"):
        m = make(backend, pos_embed="rpe").train()
        x = torch.randn(2, 64, 8, 8, requires_grad=True)
        m(x).sum().backward()
        assert x.grad is not None and m.rpe_table.grad is not None


@pytest.mark.gpu
@pytest.mark.parametrize("kw", [dict(), dict(area=1), dict(qkv_layout="split", pe_kernel=5)])
def test_backends_agree_fp16_cuda(kw):
    x = torch.randn(2, 64, 32, 32, device="cuda", dtype=torch.half)
    ref = make("naive", **kw).cuda().half()
    flash_ok = flash_attn_unavailable(x.device, x.dtype) is None
    backends = ["sdpa", "sdpa_noflash", "auto"] + (["flash_attn"] if flash_ok else [])
    with torch.no_grad():
        want = ref(x).float()
        for backend in backends:
            m = make(backend, **kw).cuda().half()
            m.load_state_dict(ref.state_dict())
            diff = (m(x).float() - want).abs().max().item()
            assert diff <= 2e-3, (backend, diff)


@pytest.mark.gpu
def test_auto_on_cuda_fp32_stays_sdpa_and_flash_reason_names_the_gpu():
    assert resolve_backend("auto", torch.empty(0, device="cuda"), False) == "sdpa"
    reason = flash_attn_unavailable("cuda")
    if torch.cuda.get_device_capability() < (8, 0):
        assert reason and "compute capability 8.0+" in reason
    elif FLASH_ATTN_INSTALLED:
        assert reason is None
        assert resolve_backend("auto", torch.empty(0, device="cuda", dtype=torch.float16), False) == "flash_attn"
    else:
        assert "not installed" in reason


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_kernel_settings_choose_the_kernel_on_cuda(dtype):
    """On CUDA in half precision: sdpa_noflash never runs a flash kernel; naive runs no SDPA at all."""
    x = torch.randn(1, 64, 32, 32, device="cuda", dtype=dtype)
    noflash = attention_ops(make("sdpa_noflash").cuda().to(dtype), x)
    assert any("scaled_dot_product" in op for op in noflash) and not any("flash" in op for op in noflash), noflash
    naive = attention_ops(make("naive").cuda().to(dtype), x)
    assert not any("scaled_dot_product" in op for op in naive), naive
