"""The package's structure: packages import only downward, no import cycles, every module imports on its own,
``import yolov12`` has no side effects, and the light entry points stay light."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PKG = ROOT / "yolov12"
# a package may import its own modules and those of lower layers only
LAYERS = {"errors": 0, "registry": 1, "settings": 1, "yamlio": 1, "io": 1, "stats": 1, "gitinfo": 1, "offline": 1,
          "cliargs": 2, "peers": 1, "cpu": 1, "logs": 1, "retry": 1, "nn": 3, "complexity": 3, "models": 4, "data": 4,
          "evaluate": 5, "latency": 6, "report": 6, "workflow": 7, "cli": 8, "__main__": 9}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every yolov12 module ``path`` imports, at module level or inside functions (both make a cycle)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                   for n in ast.walk(block)}  # annotations only: not an import at run time
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("yolov12")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("yolov12"):
                for alias in node.names:  # 'from . import x' may name a module
                    sub = f"{target}.{alias.name}"
                    out.add(sub if (ROOT / (sub.replace(".", "/") + ".py")).exists() or
                            (ROOT / sub.replace(".", "/")).is_dir() else target)
    out.discard(name)
    return out


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PKG.rglob("*.py"))}


def test_packages_import_only_downward():
    bad = []
    for src, targets in graph().items():
        if src == "yolov12":
            continue  # the package's lazy attribute table names what it loads on first use
        for dst in targets:
            a, b = top(src), top(dst)
            if a != b and dst != "yolov12" and LAYERS[b] >= LAYERS[a]:
                bad.append(f"{src} -> {dst}")
    assert not bad, "upward or sideways imports:\n" + "\n".join(sorted(bad))


def test_no_import_cycles():
    g = graph()
    cycles = []

    def visit(node, stack, seen):
        for nxt in g.get(node, ()):
            if nxt in stack:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in seen:
                seen.add(nxt)
                visit(nxt, stack + [nxt], seen)

    for start in g:
        if start != "yolov12":
            visit(start, [start], {start})
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles)))


def test_every_module_imports_on_its_own():
    names = [module_name(p) for p in sorted(PKG.rglob("*.py")) if p.name != "__main__.py"]
    code = ("import importlib, sys, json\nfailed = {}\n"
            f"for name in {names!r}:\n"
            "    for m in [m for m in sys.modules if m == 'yolov12' or m.startswith('yolov12.')]:\n"
            "        del sys.modules[m]\n"
            "    try:\n        importlib.import_module(name)\n"
            "    except Exception as e:\n        failed[name] = f'{type(e).__name__}: {e}'\n"
            "print(json.dumps(failed))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {}


def _fresh(code: str, env_extra: dict | None = None, home: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO", "MLFLOW"))}
    env.update(env_extra or {})
    if home:
        env["HOME"] = str(home)
        env.pop("XDG_CACHE_HOME", None)
        env.pop("XDG_CONFIG_HOME", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_import_yolov12_changes_nothing(tmp_path):
    """No environment variable, no Ultralytics import, no file written; the user's Ultralytics settings untouched."""
    out = _fresh("import os, sys, json\nbefore = dict(os.environ)\nimport yolov12\n"
                 "print(json.dumps({'env': {k: v for k, v in os.environ.items() if before.get(k) != v},"
                 " 'heavy': [m for m in ('torch', 'ultralytics') if m in sys.modules]}))", home=tmp_path)
    assert json.loads(out.strip().splitlines()[-1]) == {"env": {}, "heavy": []}
    assert not any(tmp_path.rglob("*")), list(tmp_path.rglob("*"))


def test_building_a_model_leaves_the_users_ultralytics_settings_alone(tmp_path):
    """Using the model API registers our modules (additive) but changes no Ultralytics setting of the user's and
    keeps Ultralytics' own AMP check in place: the same settings as a process that never imported yolov12."""
    read = ("import json\nfrom ultralytics.utils import SETTINGS\nfrom ultralytics.engine import trainer\n"
            "print(json.dumps({'settings': dict(SETTINGS), 'amp': trainer.check_amp.__module__}))")
    env = {"YOLO_CONFIG_DIR": str(tmp_path / "user-ultralytics"), "YOLO_OFFLINE": "1"}
    plain = json.loads(_fresh(read, env, home=tmp_path).strip().splitlines()[-1])
    ours = json.loads(_fresh("import yolov12\nm = yolov12.build('yolov12', scale='n')\n" + read, env,
                             home=tmp_path).strip().splitlines()[-1])
    assert ours == plain and plain["amp"] == "ultralytics.utils.checks"


def test_help_and_variants_import_neither_torch_nor_ultralytics():
    code = ("import sys\nfrom yolov12.cli import main\n"
            "for argv in (['--help'], ['variants', '--ablations-dir', 'ablations'], ['--version']):\n"
            "    main(argv)\n"
            "print('HEAVY', [m for m in ('torch', 'ultralytics', 'matplotlib') if m in sys.modules])")
    out = _fresh(code)
    assert "HEAVY []" in out


def test_yolo_passthrough_trains_our_definition(tmp_path):
    """`yolov12 yolo ...` is Ultralytics' own command with our modules registered: model=<our yaml> works."""
    from tiny_data import make_detect_dataset

    data = make_detect_dataset(tmp_path / "d")
    yaml_path = ROOT / "yolov12" / "models" / "cfg" / "yolov12.yaml"
    scaled = tmp_path / "yolov12n.yaml"
    scaled.write_text(yaml_path.read_text())
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "yolov12", "yolo", "train", f"model={scaled}", f"data={data}",
                           "epochs=1", "imgsz=64", "batch=2", "workers=0", "plots=False", f"project={tmp_path}",
                           "name=y", "exist_ok=True"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert (tmp_path / "y" / "weights" / "last.pt").is_file()


def test_a_non_editable_install_works_from_any_folder(tmp_path):
    """Installed as a plain package (not this checkout), run from an unrelated folder: the package data it needs
    (definitions, schemas, paper numbers) travel with it, and studies come from --ablations-dir, never from here."""
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(site), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "ablations").mkdir(parents=True)
    (elsewhere / "ablations" / "mine.yaml").write_text("study: mine\ntable: T\ntitle: t\nvariants:\n  a: {}\n"
                                                       "  b: {knobs: {pe_kernel: 3}}\n")
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def yolov12(*args):
        return subprocess.run([sys.executable, "-m", "yolov12", *args], capture_output=True, text=True,
                              timeout=300, cwd=elsewhere, env=env)

    where = subprocess.run([sys.executable, "-c", "import yolov12; print(yolov12.__file__)"], capture_output=True,
                           text=True, cwd=elsewhere, env=env).stdout
    assert where.startswith(str(site))
    variants = yolov12("variants", "--scales", "n")  # ./ablations of the folder it runs in
    assert variants.returncode == 0 and "mine" in variants.stdout and "2 study runs" in variants.stdout, \
        variants.stderr
    assert yolov12("models").returncode == 0
    config = elsewhere / "c.yaml"
    config.write_text("name: c\nscales: [n]\nablations_dir: ablations\n")
    check = yolov12("workflow", "check", str(config))
    assert check.returncode == 0 and "valid" in check.stdout, check.stderr
    missing = yolov12("variants", "--ablations-dir", "nowhere")
    assert missing.returncode == 2 and "nowhere" in missing.stderr  # the real path, in the one-line error
