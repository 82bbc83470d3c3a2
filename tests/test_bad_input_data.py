"""Bad input to data preparation and evaluation: exit status 2, one ``error:`` line naming the file and the key,
no traceback, no output written. Every case runs the real command (``yolov12 data ...`` / ``yolov12 val ...``) on a
real dataset and real checkpoints; the last group calls the Python API."""

from __future__ import annotations

import argparse
import pickle
import subprocess
from pathlib import Path

import pytest
import torch
from PIL import Image

import yolov12.cli
from tiny_data import copy_dataset, untrained_checkpoint
from yolov12.data import cli as data_cli
from yolov12.data.synth import generate
from yolov12.errors import EXIT_USER, UserError, main_guard
from yolov12.evaluate import cli as eval_cli

# The top-level CLI calls data_cli.add_parsers / eval_cli.add_parsers once its old data/val code is gone; until then
# the same parsers and commands run here under the same main_guard the top-level CLI uses.
WIRED = getattr(yolov12.cli, "cmd_val", None) is None


def run_cli(argv: list[str]) -> int:
    if WIRED:
        return yolov12.cli.main(argv)
    parser = argparse.ArgumentParser(prog="yolov12")
    sub = parser.add_subparsers(dest="command", required=True)
    data_cli.add_parsers(sub)
    eval_cli.add_parsers(sub)

    def command():
        args = parser.parse_args(argv)
        return args.func(args)

    return main_guard(command, argv)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A synthetic detect set (2 classes) and checkpoints: good, damaged, of other tasks and class counts."""
    root = tmp_path_factory.mktemp("bad-input")
    generate(root / "detect", task="detect", nc=2, n_train=2, n_val=4, imgsz=64, max_objects=2, verbose=False)
    good = untrained_checkpoint(root / "good.pt")
    blob = good.read_bytes()
    (root / "random.pt").write_bytes(bytes(range(256)) * 8)
    (root / "empty.pt").write_bytes(b"")
    (root / "truncated.pt").write_bytes(blob[: len(blob) // 2])
    torch.save({"weights": torch.zeros(3)}, root / "state_dict.pt")
    (root / "pickled_list.pt").write_bytes(pickle.dumps([1, 2, 3]))
    (root / "model.yaml").write_text("nc: 2\n")
    untrained_checkpoint(root / "three_classes.pt", nc=3)
    generate(root / "pose", task="pose", n_train=2, n_val=2, imgsz=64, max_objects=2, verbose=False)
    untrained_checkpoint(root / "pose17.pt", task="pose", nc=1)  # COCO's 17 keypoints; the synthetic set has 5
    return root


class Case:
    """The arguments of one bad invocation, what the error line must name, and the outputs that must not appear."""

    def __init__(self, tmp: Path, world: Path):
        self.tmp, self.world = tmp, world
        self.out = tmp / "out" / "result.json"

    def data(self) -> Path:
        """A fresh copy of the detect set to damage."""
        return copy_dataset(self.world / "detect", self.tmp / "detect")

    def val(self, *extra, model="good.pt", data=None) -> list[str]:
        data = data or self.world / "detect" / "data.yaml"
        return ["val", "--model", str(self.world / model), "--data", str(data), "--imgsz", "64", "--out",
                str(self.out), *extra]


def label_of(root: Path, split="val") -> Path:
    return sorted((root / "labels" / split).glob("*.txt"))[0]


def add_row(root: Path, row: str, split="val") -> str:
    label = label_of(root, split)
    n = len(label.read_text().splitlines())
    label.write_text(label.read_text() + row + "\n")
    return f"{label}:{n + 1}"


def first_image(root: Path) -> Path:
    return sorted((root / "images" / "val").glob("*.png"))[0]


def write_yaml(root: Path, text: str) -> Path:
    (root / "data.yaml").write_text(text.replace("ROOT", str(root)))
    return root / "data.yaml"


GOOD_YAML = "path: ROOT\ntrain: images/train\nval: images/val\nnames:\n  0: circle\n  1: square\n"


# ------------------------------------------------------------------------------------------------------- the cases
# each returns (argv, text the error line must contain as file, key)
def labels_class_out_of_range(c):
    d = c.data()
    return ["data", "check", "--data", str(d / "data.yaml"), "--task", "detect"], add_row(d, "2 0.5 0.5 0.2 0.2"), \
        "class"


def labels_zero_width(c):
    d = c.data()
    return ["data", "check", "--data", str(d / "data.yaml"), "--task", "detect"], add_row(d, "0 0.5 0.5 0 0.2"), "w"


def labels_zero_height_refused_by_val(c):
    d = c.data()
    return c.val(data=d / "data.yaml"), add_row(d, "1 0.5 0.5 0.2 0.0"), "h"


def labels_wrong_field_count(c):
    d = c.data()
    return ["data", "check", "--data", str(d / "data.yaml"), "--task", "detect"], add_row(d, "0 0.5 0.5 0.2"), \
        "fields"


def labels_non_numeric_refused_by_val(c):
    d = c.data()
    return c.val(data=d / "data.yaml"), add_row(d, "0 0.5 x 0.2 0.2"), "value"


def labels_coordinate_outside(c):
    d = c.data()
    return ["data", "check", "--data", str(d / "data.yaml"), "--task", "detect"], \
        add_row(d, "0 1.5 0.5 0.2 0.2", "train"), "coordinates"


def labels_not_a_number(c):
    d = c.data()
    return ["data", "check", "--data", str(d / "data.yaml"), "--task", "detect"], add_row(d, "0 nan 0.5 0.2 0.2"), \
        "value"


def labels_dota_class(c):
    root = c.tmp / "dota"
    for kind in ("images", "labels"):
        for split in ("train", "val"):
            (root / kind / split).mkdir(parents=True)
    (root / "labels" / "train" / "P1.txt").write_text("15 0.1 0.1 0.4 0.1 0.4 0.3 0.1 0.3\n")
    return ["data", "dota", "--root", str(root)], f"{root / 'labels' / 'train' / 'P1.txt'}:1", "class"


def image_random_bytes(c):
    d = c.data()
    first_image(d).write_bytes(bytes(range(200)))
    return c.val(data=d / "data.yaml"), str(first_image(d)), "--data"


def image_zero_bytes(c):
    d = c.data()
    first_image(d).write_bytes(b"")
    return c.val(data=d / "data.yaml"), str(first_image(d)), "--data"


def image_truncated(c):
    d = c.data()
    image = first_image(d)
    image.write_bytes(image.read_bytes()[:120])
    return c.val(data=d / "data.yaml"), str(image), "--data"


def image_too_small(c):
    d = c.data()
    Image.new("RGB", (6, 6)).save(first_image(d))
    return c.val(data=d / "data.yaml"), str(first_image(d)), "--data"


def yaml_syntax_error(c):
    d = c.data()
    path = write_yaml(d, "path: ROOT\ntrain: images/train\nval: [images/val\nnames: {0: a, 1: b}\n")
    return c.val(data=path), f"{path}:", None


def yaml_duplicate_key(c):
    d = c.data()
    path = write_yaml(d, GOOD_YAML + "val: images/train\n")
    return ["data", "check", "--data", str(path), "--task", "detect"], f"{path}:7", "val"


def yaml_missing_names(c):
    d = c.data()
    path = write_yaml(d, "path: ROOT\ntrain: images/train\nval: images/val\n")
    return c.val(data=path), str(path), "names"


def yaml_nc_disagrees_with_names(c):
    d = c.data()
    path = write_yaml(d, GOOD_YAML + "nc: 5\n")
    return c.val(data=path), str(path), "nc"


def yaml_names_with_a_gap(c):
    d = c.data()
    path = write_yaml(d, "path: ROOT\ntrain: images/train\nval: images/val\nnames:\n  0: circle\n  2: square\n")
    return ["data", "check", "--data", str(path), "--task", "detect"], str(path), "names"


def yaml_val_path_missing(c):
    d = c.data()
    path = write_yaml(d, GOOD_YAML.replace("val: images/val", "val: images/nowhere"))
    return c.val(data=path), str(path), "val"


def yaml_file_missing(c):
    return c.val(data=c.tmp / "absent.yaml"), str(c.tmp / "absent.yaml"), "--data"


def yaml_pose_kpt_shape(c):
    d = c.data()
    path = write_yaml(d, GOOD_YAML + "kpt_shape: [5]\n")
    return ["data", "check", "--data", str(path), "--task", "pose"], str(path), "kpt_shape"


def checkpoint(name):
    def case(c):
        return c.val(model=name), str(c.world / name), "--model"
    case.__name__ = f"checkpoint_{name.replace('.', '_')}"
    return case


def checkpoint_of_another_task(c):
    return c.val("--task", "segment"), str(c.world / "good.pt"), "--task"


def checkpoint_with_other_classes(c):
    return c.val(model="three_classes.pt"), str(c.world / "detect" / "data.yaml"), "names"


def checkpoint_with_other_keypoints(c):
    data = c.world / "pose" / "data.yaml"
    return c.val(model="pose17.pt", data=data), str(data), "kpt_shape"


def arg(flag, value, file_is_checkpoint=False):
    def case(c):
        argv = c.val(flag, value)
        if flag == "--imgsz":  # replace the default --imgsz 64
            argv = argv[:5] + argv[7:-2] + [flag, value]
        return argv, str(c.world / "good.pt") if file_is_checkpoint else None, flag
    case.__name__ = f"val_{flag.strip('-').replace('-', '_')}_{value.replace('-', 'minus').replace(':', '_')}"
    return case


def gt_file_missing(c):
    return c.val("--gt", str(c.tmp / "gt.json")), str(c.tmp / "gt.json"), "--gt"


def gt_not_json(c):
    (c.tmp / "gt.json").write_text("{not json")
    return c.val("--gt", str(c.tmp / "gt.json")), str(c.tmp / "gt.json"), "--gt"


def synth_too_many_classes(c):
    return ["data", "synth", "--out", str(c.out.parent), "--nc", "9"], None, "--nc"


def synth_tiny_images(c):
    return ["data", "synth", "--out", str(c.out.parent), "--imgsz", "16"], None, "--imgsz"


def coco_root_missing(c):
    return ["data", "coco", "--root", str(c.tmp / "coco"), "--out", str(c.out.parent)], str(c.tmp / "coco"), "--root"


def imagenet_tree_missing(c):
    return ["data", "imagenet", "--tree", str(c.tmp / "tree"), "--out", str(c.out.parent)], str(c.tmp / "tree"), \
        "--tree"


def imagenet_both_sources(c):
    (c.tmp / "tree").mkdir()
    return ["data", "imagenet", "--tree", str(c.tmp / "tree"), "--train-tar", "x.tar", "--out", str(c.out.parent)], \
        None, "--tree"


def dota_root_missing(c):
    return ["data", "dota", "--root", str(c.tmp / "DOTA")], str(c.tmp / "DOTA"), "--root"


CLI_CASES = [
    labels_class_out_of_range, labels_zero_width, labels_zero_height_refused_by_val, labels_wrong_field_count,
    labels_non_numeric_refused_by_val, labels_coordinate_outside, labels_not_a_number, labels_dota_class,
    image_random_bytes, image_zero_bytes, image_truncated, image_too_small,
    yaml_syntax_error, yaml_duplicate_key, yaml_missing_names, yaml_nc_disagrees_with_names, yaml_names_with_a_gap,
    yaml_val_path_missing, yaml_file_missing, yaml_pose_kpt_shape,
    checkpoint("random.pt"), checkpoint("empty.pt"), checkpoint("truncated.pt"), checkpoint("state_dict.pt"),
    checkpoint("pickled_list.pt"), checkpoint("model.yaml"), checkpoint("absent.pt"), checkpoint_of_another_task,
    checkpoint_with_other_classes, checkpoint_with_other_keypoints,
    arg("--imgsz", "0"), arg("--imgsz", "-32"), arg("--imgsz", "70", file_is_checkpoint=True), arg("--conf", "1.5"),
    arg("--iou", "0"), arg("--max-det", "0"), arg("--batch", "0"), arg("--device", "cuda:7"),
    arg("--device", "gpu"), gt_file_missing, gt_not_json,
    synth_too_many_classes, synth_tiny_images, coco_root_missing, imagenet_tree_missing, imagenet_both_sources,
    dota_root_missing,
]
if not torch.cuda.is_available():
    CLI_CASES.append(arg("--precision", "fp16"))


@pytest.mark.parametrize("make", CLI_CASES, ids=[f.__name__ for f in CLI_CASES])
def test_bad_input_is_one_line_naming_file_and_key(make, world, tmp_path, capsys):
    argv, file, key = make(Case(tmp_path, world))
    capsys.readouterr()
    status = run_cli(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == EXIT_USER, err
    assert len([line for line in lines if line.startswith("error:")]) == 1 and lines[-1].startswith("error:"), err
    assert "Traceback" not in err and "pi_heif" not in err
    line = lines[-1]
    if file is not None:
        assert f"error: {file}" in line, line
    if key is not None:
        assert f": {key}: " in line, line
    assert not (tmp_path / "out").exists(), "a refused command wrote output"


def test_dropped_image_is_named_with_its_real_cause(world, tmp_path, capsys):
    c = Case(tmp_path, world)
    d = c.data()
    first_image(d).write_bytes(b"")
    assert run_cli(c.val(data=d / "data.yaml")) == EXIT_USER
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"error: {first_image(d)}: --data: empty file (0 bytes) - only 3 of 4 ground-truth images")
    assert "--allow-subset" in line


# --------------------------------------------------------------------------------------------------- Python API
@pytest.mark.parametrize("kwargs, key", [
    ({"imgsz": 70}, "--imgsz"), ({"conf": -0.1}, "--conf"), ({"max_det": 2.5}, "--max-det"),
    ({"precision": "bf16"}, "--precision"), ({"backend": "coco"}, "--backend"), ({"task": "classify"}, "--task"),
], ids=["imgsz", "conf", "max_det", "precision", "backend", "task"])
def test_evaluate_api_raises_user_error_with_the_key(world, tmp_path, kwargs, key):
    from yolov12.evaluate import evaluate

    with pytest.raises(UserError) as err:
        evaluate(world / "good.pt", world / "detect" / "data.yaml", out=tmp_path / "r.json", **{"imgsz": 64, **kwargs})
    assert err.value.key == key and "\n" not in str(err.value)
    assert not (tmp_path / "r.json").exists()


def test_data_api_errors_carry_file_and_key(world, tmp_path):
    from yolov12.data.check import check_dataset
    from yolov12.data.synth import SynthSpec

    with pytest.raises(UserError) as err:
        SynthSpec(n_val=0)
    assert err.value.key == "--n-val"
    path = write_yaml(copy_dataset(world / "detect", tmp_path / "d"), GOOD_YAML + "nc: 3\n")
    with pytest.raises(UserError) as err:
        check_dataset(path, "detect")
    assert (err.value.file, err.value.key) == (path, "nc")


@pytest.mark.skipif(not WIRED, reason="yolov12/cli.py does not call yolov12.evaluate.cli.add_parsers yet")
def test_the_installed_command_line(world, python_env):
    env, python = python_env
    proc = subprocess.run([python, "-m", "yolov12", "val", "--model", str(world / "empty.pt"), "--data",
                           str(world / "detect" / "data.yaml")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == EXIT_USER and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (f"error: {world / 'empty.pt'}: --model: not a PyTorch checkpoint "
                                                    "(empty file, 0 bytes); allowed: a .pt checkpoint written by "
                                                    "training")


def test_parsers_build_without_torch_or_ultralytics(python_env):
    """Building the 'data' and 'val' parsers (what --help and every command do first) loads no heavy library."""
    env, python = python_env
    code = f"""
import argparse, importlib.abc, sys, types

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "ultralytics", "PIL", "cv2"):
            raise ImportError(name + " imported while building the parser")

sys.meta_path.insert(0, Block())
package = types.ModuleType("yolov12")  # the package's own __init__ loads Ultralytics on purpose; skip it here
package.__path__ = [{str(Path(yolov12.cli.__file__).parent)!r}]
sys.modules["yolov12"] = package
from yolov12.data import cli as data_cli
from yolov12.evaluate import cli as eval_cli

parser = argparse.ArgumentParser(prog="yolov12")
sub = parser.add_subparsers(dest="command")
data_cli.add_parsers(sub)
eval_cli.add_parsers(sub)
args = parser.parse_args(["val", "--model", "m.pt", "--data", "d.yaml"])
print(args.precision, args.imgsz, args.func.__name__)
print(sub.choices["val"].format_help())
"""
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    first, help_text = proc.stdout.split("\n", 1)
    assert first == "fp32 None cmd_val"  # the evaluate settings' precision (yolov12.settings), as the workflow's
    assert "(default: 0.001)" in help_text and "example:\n  yolov12 val --model" in help_text
