"""Torch-free shape checks (yolov12.models.shapes) against the real built models, and their one-line refusals.

Every family x task x scale (and every hierarchy) is built for real and run once; the channels and strides of every
layer, the attention stages' widths, heads and areas, and the token counts their maps have must equal what the
torch-free module computes from the same definition.
"""

import itertools
import subprocess
import textwrap

import pytest
import torch

import yolov12
from yolov12.errors import UserError
from yolov12.models import FAMILIES, SCALES, TASKS, model_yaml, shapes, torch_model
from yolov12.nn import AreaSizeError

H, W = 64, 96  # a non-square input: P4 is 4x6 = 24 tokens (l = 4 divides it), P5 2x3

CASES = [(f, t, s, "full", {}) for f, t, s in itertools.product(FAMILIES, TASKS, SCALES)]
CASES += [("yolov12", "detect", s, h, {}) for h in ("plain", "s1", "s4") for s in SCALES]
CASES += [("yolov12", "detect", "n", "full", k) for k in ({"area": 2}, {"area": 8}, {"head_dim": 16},
                                                          {"attn_width": 1.5}, {"aggregation": "elan"})]
CASES += [("yolov12", "detect", "l", "full", {"attn_width": 0.75, "mlp_ratio": 4.0})]


def case_id(case):
    family, task, scale, hierarchy, knobs = case
    extra = ",".join(f"{k}={v}" for k, v in knobs.items())
    return "-".join(p for p in (family, task, scale, hierarchy, extra) if p)


def measured(model, h, w):
    """(channels, stride) of every layer's tensor output, and (H, W) of every attention layer's input, by layer."""
    layer_out, attn_in, hooks = {}, {}, []
    for i, layer in enumerate(model.model):
        def keep(_m, _inp, out, i=i):
            if isinstance(out, torch.Tensor) and out.ndim == 4:
                layer_out[i] = (out.shape[1], h // out.shape[2], w // out.shape[3])
        hooks.append(layer.register_forward_hook(keep))
        for m in layer.modules():
            if isinstance(m, yolov12.nn.AreaAttention):
                def seen(_m, args, i=i):
                    attn_in.setdefault(i, set()).add(tuple(args[0].shape[-2:]))
                hooks.append(m.register_forward_pre_hook(seen))
    model.eval()
    with torch.no_grad():
        model(torch.rand(1, 3, h, w))
    for hook in hooks:
        hook.remove()
    return layer_out, attn_in


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_free_numbers_equal_the_built_model(case):
    family, task, scale, hierarchy, knobs = case
    d = model_yaml(family, scale, task, hierarchy, **knobs)
    predicted = {layer.index: layer for layer in shapes.layers(d, scale)}
    attn = shapes.attention_layers(family, scale, task, hierarchy, knobs)
    model = torch_model(family, scale, task, hierarchy, **knobs)
    layer_out, attn_in = measured(model, H, W)
    for i, (channels, sh, sw) in layer_out.items():
        if predicted[i].module in shapes.HEADS:
            continue
        assert (predicted[i].channels, predicted[i].stride, predicted[i].stride) == (channels, sh, sw), i
    assert [a.index for a in attn] == sorted(attn_in)
    for a in attn:
        relan = model.model[a.index]
        modules = [m for m in relan.modules() if isinstance(m, yolov12.nn.AreaAttention)]
        assert len(modules) == a.blocks
        assert {(m.all_head_dim, m.num_heads, m.area) for m in modules} == {(a.channels, a.heads, a.area)}
        (mh, mw), = attn_in[a.index]
        assert (mh, mw) == (H // a.stride, W // a.stride)
        assert (mh * mw) % a.area == 0  # the token count the torch-free check divides


def test_modules_are_light(tmp_path):
    """shapes, models and nn.knobs import neither torch nor Ultralytics (the package __init__ is bypassed, so only
    these modules' own imports count)."""
    code = textwrap.dedent(f"""
        import sys, types
        pkg = types.ModuleType("yolov12"); pkg.__path__ = [{str(yolov12.__path__[0])!r}]
        sys.modules["yolov12"] = pkg
        import yolov12.models.shapes, yolov12.models, yolov12.nn.knobs, yolov12.nn
        layers = yolov12.models.shapes.attention_layers("yolov12", "l")
        assert layers[0].channels == 256, layers
        heavy = sorted(m for m in ("torch", "ultralytics", "numpy", "cv2") if m in sys.modules)
        print("HEAVY", heavy)
    """)
    out = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_default_sizes_pass():
    shapes.check_model("yolov12", "n", "detect", "full", {}, {
        "train": (640, 640), "val rect-padded": shapes.val_shapes_any_ratio(640), "latency": (640, 640),
        "export": [(640, 640), (384, 640)]}, where="config.yaml")


def test_area_that_no_rect_shape_allows_is_refused_naming_use_map_and_allowed_counts():
    with pytest.raises(UserError) as e:
        shapes.check_model("yolov12", "s", "detect", "full", {"area": 8},
                           {"train": (640, 640), "val rect-padded": shapes.val_shapes_any_ratio(640)},
                           where="studies/area.yaml: variants.l8")
    text = str(e.value)
    assert "\n" not in text
    assert text.startswith("studies/area.yaml: variants.l8: area: val rect-padded size ")
    assert "feature map at stride 16 (layer 6)" in text and "area count 8 does not divide" in text
    # the long side is 672 = 21 * 32 for imgsz 640, so the P4 tokens are 4 * 21 * a: only divisors of 84 are safe
    assert text.endswith("allowed: area counts [1, 2, 3, 4, 6, 7, 12, 14, 21, 28, 42, 84]")


def test_rule_for_every_image_size_is_divisors_of_four():
    safe = None
    for imgsz in range(32, 1281, 32):
        tokens = [(h // 16) * (w // 16) for h, w in shapes.val_shapes_any_ratio(imgsz)]
        common = set(shapes.divisors(__import__("math").gcd(*tokens)))
        safe = common if safe is None else safe & common
    assert safe == {1, 2, 4}


def test_size_not_a_multiple_of_the_stride_is_refused():
    with pytest.raises(UserError, match=r"config.yaml: latency size 100x100 is not a multiple of the model's max "
                                        r"stride 32; allowed: multiples of 32"):
        shapes.check_model("yolov12", "n", "detect", "full", None, {"latency": (100, 100)}, where="config.yaml")


@pytest.mark.parametrize("knobs, key", [({"head_dim": 48}, "knobs.head_dim"),
                                        ({"attn_width": 0.8}, "knobs.attn_width")])
def test_widths_that_are_not_whole_heads_are_refused(knobs, key):
    with pytest.raises(UserError) as e:
        shapes.check_model("yolov12", "n", "detect", "full", knobs, {"train": (640, 640)}, where="study.yaml")
    assert str(e.value).startswith(f"study.yaml: {key}: ") and "allowed:" in str(e.value)


def test_attn_width_grid_keeps_whole_heads_at_every_stage():
    assert shapes.attn_width_grid("yolov12", "l")[:3] == [0.125, 0.25, 0.375]  # both stages 256 wide: 8 heads
    assert shapes.attn_width_grid("yolov12", "x")[0] == pytest.approx(1 / 12)  # 384 wide
    assert shapes.attn_width_grid("yolov12", "n") == [0.5, 1.0, 1.5, 2.0]  # 64 and 128 wide


def test_val_shapes_equal_ultralytics_rect_batches(tmp_path):
    """Real images of several aspect ratios through Ultralytics' own YOLODataset (rect, pad 0.5, stride 32)."""
    from PIL import Image
    from ultralytics.data.dataset import YOLODataset

    sizes = [(480, 640), (640, 480), (300, 1000), (1000, 300), (500, 500), (427, 640), (612, 612)]
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for i, (h, w) in enumerate(sizes):
        Image.new("RGB", (w, h), (90, 90, 90)).save(tmp_path / "images" / f"{i}.jpg")
        (tmp_path / "labels" / f"{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    for imgsz, batch in ((640, 1), (640, 2), (320, 3)):
        ds = YOLODataset(img_path=str(tmp_path / "images"), imgsz=imgsz, batch_size=batch, augment=False, rect=True,
                         stride=32, pad=0.5, data={"names": {0: "a"}, "channels": 3}, task="detect")
        assert [tuple(s) for s in ds.batch_shapes.tolist()] == shapes.val_shapes(imgsz, sizes, 32, batch)


def test_build_does_not_fail_on_the_stride_probe_but_a_real_forward_still_does():
    """area 5 divides no 2^k map: the build probe (256 px) runs it global; a real non-divisible forward is refused."""
    model = torch_model("yolov12", "n", area=5).eval()
    assert not model.model[0]._forward_pre_hooks and not model.model[-1]._forward_hooks  # one-shot hooks are gone
    attn = [m for m in model.modules() if isinstance(m, yolov12.nn.AreaAttention)]
    assert {m.feature_stride for m in attn} == {16, 32}  # learnt from the probe
    with torch.no_grad():
        model(torch.rand(1, 3, 160, 128))  # P4 10x8 = 80 tokens: 5 divides it
        with pytest.raises(AreaSizeError) as e:
            model(torch.rand(1, 3, 128, 128))
    assert str(e.value) == ("area: a 8x8 feature map (stride 16) has 64 tokens, which the area count l=5 does not "
                            "divide; choose an image size whose map it divides, or an area count that divides 64; "
                            "allowed: 1, 2, 4, 8, 16, 32, 64")
    shapes.check_model("yolov12", "n", "detect", "full", {"area": 5}, {"train": (160, 128)}, where="x")
