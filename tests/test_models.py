"""Every shipped definition and every knob value builds and trains (forward + backward) on CPU; default-knob
models are Ultralytics' YOLO12 (strict state-dict load, same outputs)."""

import itertools
import subprocess
import sys
import textwrap
import threading

import pytest
import torch
from ultralytics.nn.tasks import (
    ClassificationModel,
    DetectionModel,
    OBBModel,
    PoseModel,
    SegmentationModel,
)

import yolov12
from yolov12.evaluate.artifact_file import flatten_tensors as tensors
from yolov12.models import FAMILIES, SCALES, TASKS, torch_model

ULTRALYTICS = {"detect": ("yolo12{}.yaml", DetectionModel), "segment": ("yolo12{}-seg.yaml", SegmentationModel),
               "pose": ("yolo12{}-pose.yaml", PoseModel), "classify": ("yolo12{}-cls.yaml", ClassificationModel),
               "obb": ("yolo12{}-obb.yaml", OBBModel)}


def forward_backward(model, imgsz=64):
    model.train()
    x = torch.randn(2, 3, imgsz, imgsz)
    sum(t.float().sum() for t in tensors(model(x))).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("family, task, scale", list(itertools.product(FAMILIES, TASKS, SCALES)))
def test_every_definition_builds_and_trains(family, task, scale):
    torch.manual_seed(0)
    forward_backward(torch_model(family, scale, task))


KNOB_VARIANTS = [
    {"area": 1}, {"area": 2}, {"area": 8},
    {"pe_kernel": 0}, {"pe_kernel": 3}, {"pe_kernel": 5}, {"pe_kernel": 9},
    {"pos_embed": "ape"}, {"pos_embed": "rpe"},
    {"attn_impl": "conv_ln"}, {"attn_impl": "linear_bn"}, {"attn_impl": "linear_ln"},
    {"mlp_ratio": 1.2}, {"mlp_ratio": 4.0},
    {"aggregation": "elan"}, {"residual": "on", "layer_scale": 0.1}, {"residual": "off"},
    {"backend": "naive"}, {"backend": "sdpa"}, {"backend": "sdpa_noflash"}, {"qkv_layout": "split"},
    {"head_dim": 16}, {"attn_width": 1.5}, {"attn_width": 0.5, "mlp_ratio": 4.0},
]


@pytest.mark.parametrize("knobs", KNOB_VARIANTS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_every_knob_value_builds_and_trains(knobs):
    torch.manual_seed(0)
    model = torch_model("yolov12", "n", **knobs)
    forward_backward(model, imgsz=128)  # P4 = 8x8 = 64 tokens: divisible by every area count tested


@pytest.mark.parametrize("hierarchy", ["plain", "s1", "s4"])
def test_hierarchy_variants_build_and_train(hierarchy):
    torch.manual_seed(0)
    forward_backward(torch_model("yolov12", "n", hierarchy=hierarchy), imgsz=128)


def test_knobs_reach_the_modules():
    m = torch_model("yolov12", "l", area=2, mlp_ratio=2.0, residual="on", layer_scale=0.1, pe_kernel=3)
    relans = [x for x in m.modules() if isinstance(x, yolov12.nn.RELAN)]
    attn = [x for x in m.modules() if isinstance(x, yolov12.nn.AreaAttention)]
    assert {a.area for a in attn} == {2, 1}  # the l=4 stage moves to 2, the global P5 stage stays global
    assert all(a.pe.conv.kernel_size == (3, 3) for a in attn)
    gammas = [r.gamma for r in relans if r.gamma is not None]
    assert len(gammas) == 2 and all(torch.allclose(g, torch.full_like(g, 0.1)) for g in gammas)
    block = next(x for x in m.modules() if isinstance(x, yolov12.nn.AttnBlock))
    assert block.mlp[0].conv.out_channels == 2 * block.mlp[0].conv.in_channels


def test_residual_is_on_only_for_large_backbone_attention_stages():
    for scale, expected in (("n", 0), ("s", 0), ("m", 0), ("l", 2), ("x", 2)):
        m = torch_model("yolov12", scale)
        assert sum(r.gamma is not None for r in m.modules() if isinstance(r, yolov12.nn.RELAN)) == expected


@pytest.mark.parametrize("task, scale", [("detect", s) for s in SCALES] + [(t, "n") for t in TASKS if t != "detect"])
def test_default_knobs_load_ultralytics_yolo12_strictly_with_identical_outputs(task, scale):
    name, cls = ULTRALYTICS[task]
    torch.manual_seed(0)
    ref = cls(name.format(scale), verbose=False).eval()
    ours = torch_model("yolov12", scale, task, backend="naive").eval()
    assert [k for k in ours.state_dict()] == [k for k in ref.state_dict()]
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a, b = ref(x), ours(x)
    pairs = list(zip(tensors(a), tensors(b), strict=True))
    assert pairs
    for ta, tb in pairs:
        assert (ta - tb).abs().max().item() <= 1e-4 * max(1.0, ta.abs().max().item())


def test_shipped_yaml_is_a_plain_ultralytics_model_file():
    """``YOLO('<cfg>/yolov12s-turbo.yaml')``: Ultralytics reads the scale from the name, the file is the family's."""
    from ultralytics import YOLO

    from yolov12.models import CFG_DIR

    yolov12.nn.register()  # RELAN known to Ultralytics' parser (also done by build / torch_model / unpickling)
    model = YOLO(str(CFG_DIR / "yolov12s-turbo.yaml"))
    assert sum(p.numel() for p in model.model.parameters()) == 9_127_424


def test_our_parse_never_leaks_into_a_concurrent_ultralytics_parse():
    """The A2C2f -> RELAN binding lasts one parse under a lock every parse takes: yolo12 built on another thread at
    the same time gets Ultralytics' own A2C2f modules."""
    from ultralytics.nn.modules.block import A2C2f

    theirs = []

    def build_theirs():
        for _ in range(3):
            theirs.append(DetectionModel("yolo12n.yaml", verbose=False))

    t = threading.Thread(target=build_theirs)
    t.start()
    for _ in range(3):
        torch_model("yolov12", "n")
    t.join()
    for model in theirs:
        kinds = {type(m) for m in model.modules()}
        assert A2C2f in kinds and yolov12.nn.RELAN not in kinds


GOOD_MANNERS = textwrap.dedent("""
    import os, sys, types
    pkg = types.ModuleType("yolov12"); pkg.__path__ = [sys.argv[1]]
    sys.modules["yolov12"] = pkg  # this package's own __init__ (offline defaults) is not what is tested here
    import ultralytics.nn.tasks as tasks
    from ultralytics.nn.modules.conv import Conv
    from ultralytics.utils import SETTINGS
    def state():
        names = {k: id(v) for k, v in vars(tasks).items() if k not in ("RELAN", "parse_model")}
        return names, dict(os.environ), dict(SETTINGS), repr(Conv.default_act)
    before = state()
    import yolov12.nn.blocks                         # registers RELAN: additive
    from yolov12.models import torch_model
    torch_model("yolov12", "n")
    after = state()
    yolo12 = tasks.DetectionModel("yolo12n.yaml", verbose=False)
    print("RESULT", before == after, hasattr(tasks, "RELAN"), sum(p.numel() for p in yolo12.parameters()))
""")


def test_importing_and_building_changes_no_ultralytics_setting_or_name(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k != "YOLO_CONFIG_DIR"}
    env.update(YOLO_CONFIG_DIR=str(tmp_path), YOLO_OFFLINE="1", XDG_CACHE_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", GOOD_MANNERS, yolov12.__path__[0]], env=env, capture_output=True,
                         text=True, timeout=600)
    assert "RESULT True True 2602288" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
