"""Knob validation: every bad value is a clear error naming the knob and its allowed values."""

import pytest

import yolov12
from yolov12.errors import UserError
from yolov12.nn.knobs import BACKENDS, BackendUnavailable, KnobError, Knobs, attn_hidden


@pytest.mark.parametrize(
    "knob, value, message",
    [
        ("backend", "cuda", "backend"),
        ("pe_kernel", 4, "pe_kernel"),
        ("pos_embed", "sin", "pos_embed"),
        ("attn_impl", "conv", "attn_impl"),
        ("aggregation", "csp", "aggregation"),
        ("residual", True, "residual"),
        ("area", 0, "area"),
        ("mlp_ratio", -1, "mlp_ratio"),
        ("layer_scale", 0, "layer_scale"),
        ("qkv_layout", "packed", "qkv_layout"),
        ("pe_kernel", False, "pe_kernel"),  # False == 0 in Python; a bool is not a kernel size
        ("attn_width", 0, "attn_width"),
        ("attn_width", True, "attn_width"),
    ],
)
def test_bad_knob_value_names_the_knob(knob, value, message):
    with pytest.raises(KnobError, match=message) as e:
        Knobs(**{knob: value})
    assert isinstance(e.value, UserError) and e.value.key == knob and "\n" not in str(e.value)


def test_backend_settings_are_explicit_and_old_values_still_work():
    assert BACKENDS == ("naive", "sdpa_noflash", "sdpa", "flash_attn", "auto")
    for backend in ("naive", "sdpa", "flash_attn", "auto", "sdpa_noflash"):
        assert Knobs(backend=backend).backend == backend
    assert issubclass(BackendUnavailable, KnobError)


def test_bad_knob_in_a_definition_names_the_definition_and_key():
    with pytest.raises(KnobError) as e:
        yolov12.model_yaml("yolov12", "n", backend="flash")
    assert str(e.value).startswith("yolov12 (scale n): knobs: backend: 'flash' is not allowed; allowed: naive, ")


@pytest.mark.parametrize("width, hidden", [(1.0, 256), (0.75, 192), (0.875, 224), (1.125, 288)])
def test_attn_width_scales_the_attention_hidden_width_in_whole_heads(width, hidden):
    assert attn_hidden(512, 0.5, Knobs(attn_width=width)) == hidden


def test_attn_width_off_the_head_grid_is_refused_with_the_grid():
    with pytest.raises(KnobError) as e:
        attn_hidden(512, 0.5, Knobs(attn_width=0.83))
    assert e.value.key == "attn_width"
    assert "0.83 gives 212.48 hidden channels" in str(e.value) and "allowed: multiples of 32/256: 0.125, 0.25" in str(
        e.value)


def test_unknown_knob_is_named_with_the_known_ones():
    with pytest.raises(KnobError, match=r"unknown knob\(s\) \['areas'\].*known knobs"):
        yolov12.model_yaml("yolov12", "n", areas=2)


def test_rpe_with_flash_attn_is_refused():
    with pytest.raises(KnobError, match="rpe"):
        Knobs(backend="flash_attn", pos_embed="rpe")


@pytest.mark.parametrize("bad", [{"family": "yolov13"}, {"scale": "xl"}, {"task": "depth"}, {"hierarchy": "s2"}])
def test_bad_model_name_parts(bad):
    args = {"family": "yolov12", "scale": "n", "task": "detect", "hierarchy": "full", **bad}
    with pytest.raises(KnobError, match=list(bad)[0]):
        yolov12.model_yaml(**args)


def test_hierarchy_only_for_v1_detect():
    with pytest.raises(KnobError, match="hierarchy"):
        yolov12.model_yaml("yolov12-turbo", "n", hierarchy="plain")


def test_resolved_yaml_is_explicit_and_turbo_scale_defaults_fold_in():
    d = yolov12.model_yaml("yolov12-turbo", "l")
    assert d["knobs"]["mlp_ratio"] == 1.5 and d["knobs"]["qkv_layout"] == "split" and d["knobs"]["pe_kernel"] == 5
    assert "scale_knobs" not in d
    assert yolov12.model_yaml("yolov12-turbo", "n")["knobs"]["mlp_ratio"] is None  # parser default (2.0)
    assert yolov12.model_yaml("yolov12-turbo", "l", mlp_ratio=2.0)["knobs"]["mlp_ratio"] == 2.0  # user wins


def test_variant_file_name_is_stable_and_knob_dependent(tmp_path):
    a = yolov12.write_model_yaml("yolov12", "s", area=2, directory=tmp_path)
    b = yolov12.write_model_yaml("yolov12", "s", area=2, directory=tmp_path)
    c = yolov12.write_model_yaml("yolov12", "s", area=8, directory=tmp_path)
    base = yolov12.write_model_yaml("yolov12", "s", directory=tmp_path)
    assert a == b and a != c and base.name == "yolov12s-base.yaml"
    assert a.name.startswith("yolov12s-")
