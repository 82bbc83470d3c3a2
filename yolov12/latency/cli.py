"""``yolov12 latency`` and ``yolov12 profile`` subcommands (registered by ``yolov12/cli.py``).

    yolov12 latency --family yolov12 --scale n [--knob k=v ...] | --peer yolov9t | --ultralytics yolov8n.yaml
                    | --checkpoint best.pt
                    --device cpu cuda:0 --precision fp32 fp16 --runtime eager onnxruntime --batch 1 --imgsz 640
                    [--backend naive sdpa_noflash sdpa flash_attn] [--scope forward end2end] [--threads N]
                    [--warmup-iters 10] [--warmup-s 1] [--min-iters 50] [--min-s 2] [--processes 3]
                    [--out DIR] [--json FILE]
    yolov12 profile (same model options) --imgsz 640 [--batch 1] [--device cpu] [--precision fp32] [--backend sdpa]
                    [--json FILE]

Building the parsers is light (argparse, the registry, the knob list): the choices of --precision and --runtime are
``yolov12.registry``'s (a runtime registered through ``register_runtime``, an entry point of group
``yolov12.runtimes`` or ``YOLOV12_PLUGINS`` is a choice), those of --backend ``yolov12.latency.names.backends()``.
"""

from __future__ import annotations

import argparse
import json
import re

from .. import registry
from .names import SCOPES, STATUS, backends


def _model_arg(args, scale: str):
    if args.checkpoint:
        return args.checkpoint
    from .spec import ModelSpec

    if args.peer:
        from .paper_peers import peer_spec

        return peer_spec(args.peer)
    if args.ultralytics:
        return ModelSpec(ultralytics=args.ultralytics, nc=args.nc)
    return ModelSpec(args.family, scale, args.task, args.hierarchy, args.nc, dict(args.knob))


def _models(args) -> list:
    """One model per --scales value (a checkpoint, peer or Ultralytics definition is one model)."""
    if args.checkpoint or args.peer or args.ultralytics:
        return [_model_arg(args, None)]
    return [_model_arg(args, scale) for scale in args.scales]


def _add_model(p: argparse.ArgumentParser) -> None:
    from ..cliargs import add_model_args
    from .paper_peers import peers

    add_model_args(p, many_scales=True)
    p.set_defaults(scales=["n"])
    other = p.add_mutually_exclusive_group()
    other.add_argument("--checkpoint", default=None, help="time a trained checkpoint (.pt) instead of a registry spec")
    other.add_argument("--peer", default=None, choices=peers(), metavar="PEER",
                       help=f"a peer of paper Tables 1 / 4 from its Ultralytics definition: {' '.join(peers())}")
    other.add_argument("--ultralytics", default=None, metavar="YAML",
                       help="any Ultralytics model definition, random weights (e.g. yolov8n.yaml)")


def _refuse_knobs(args) -> None:
    if args.knob and (args.checkpoint or args.peer or args.ultralytics):
        from ..errors import UserError

        raise UserError("applies to this suite's YOLOv12 family only (use --backend for the attention kernel)",
                        key="--knob", allowed="no --knob with --checkpoint, --peer or --ultralytics")


DEVICE = re.compile(r"^(cpu|cuda(:[0-9]+)?|[0-9]+)$")


def check_flags(args) -> None:
    """Before any work (no torch import, no export): devices spelled as torch spells them, a checkpoint that exists,
    and every --imgsz runnable by the model: a multiple of its max stride whose token counts every area count
    divides (from the definitions, as the workflow checks its configs)."""
    from pathlib import Path

    from ..errors import UserError

    _refuse_knobs(args)
    for device in args.devices:
        if not DEVICE.match(device):
            raise UserError(f"device {device!r} is not a torch device", key="--devices", allowed="cpu, cuda, cuda:N")
    sizes = [(i, i) for i in args.imgsz]
    if args.checkpoint:
        if not Path(args.checkpoint).is_file():
            raise UserError("checkpoint file does not exist", file=args.checkpoint, key="--checkpoint",
                            allowed="a trained checkpoint (.pt)")
        return
    if args.peer or args.ultralytics:  # Ultralytics' own definitions: their largest stride is 32
        bad = [i for i in args.imgsz if i % 32]
        if bad:
            raise UserError(f"image size {bad[0]} is not a multiple of the model's max stride 32", key="--imgsz",
                            allowed="multiples of 32")
        return
    from ..models import shapes

    for scale in args.scales:
        try:
            shapes.check_model(args.family, scale, args.task, args.hierarchy, dict(args.knob), {"--imgsz": sizes},
                               where=f"{args.command} --scale {scale}")
        except UserError as e:
            raise UserError(e.what, file=e.file, key=e.key or "--imgsz", allowed=e.allowed) from None


def _model_dict(model) -> dict:
    """The JSON form a session cell carries (a checkpoint path, or a ModelSpec's fields)."""
    from dataclasses import asdict

    if isinstance(model, str):
        return {"checkpoint": model}
    return {k: v for k, v in asdict(model).items() if v is not None}


def cmd_latency(args) -> int:
    """Every model x setting of the command line as ONE timing session of ``--processes`` fresh processes."""
    from .core import Matrix, write_results
    from .session import SessionSettings, run_session, session_cell

    check_flags(args)
    matrix = Matrix.of(args.devices, args.precision, args.runtime, args.batch, args.imgsz, args.backend or [None],
                       args.scope, args.threads)
    harness = {"tf32": args.tf32, "workdir": args.workdir, "onnx_file": args.onnx, "compile_mode": args.compile_mode}
    settings = SessionSettings(processes=args.processes, warmup_iters=args.warmup_iters, warmup_s=args.warmup_s,
                               min_iters=args.min_iters, min_s=args.min_s, max_s=args.max_s,
                               harness={k: v for k, v in harness.items() if v})
    cells = [session_cell(_model_dict(model), device=s.device, precision=s.precision, runtime=s.runtime,
                          batch=s.batch, imgsz=s.imgsz, backend=s.backend, scope=s.scope, threads=s.threads)
             for model in _models(args) for s in matrix.product()]
    result = run_session(cells, settings, verbose=not args.quiet)
    if len(result["models"]) == 1:
        result["model"] = next(iter(result["models"].values()))
    for path in write_results(result, args.out, args.json, args.tag):
        print(path)
    counts = {s: sum(c["status"] == s for c in result["cells"]) for s in STATUS}
    counts["contended"] = sum(bool(c.get("contended")) for c in result["cells"])
    print(json.dumps({"session": result["session"]["id"], "processes": args.processes, **counts}))
    return 1 if args.strict and counts["failed"] else 0


def add_latency_parser(subparsers) -> argparse.ArgumentParser:
    from ..cliargs import HELP_FORMAT, add_devices, add_setting, example, int_at_least, seconds
    from ..settings import LATENCY

    p = subparsers.add_parser("latency", help="latency matrix: device x precision x runtime x batch x imgsz x backend",
                              formatter_class=HELP_FORMAT,
                              epilog=example("yolov12 latency --scales n s --devices cpu cuda:0 --precision fp32 "
                                             "fp16 --runtime eager onnxruntime --json lat.json"))
    _add_model(p)
    add_devices(p)
    add_setting(p, LATENCY, "precisions", "--precision", nargs="+", choices=list(registry.PRECISIONS),
                dest="precision")
    add_setting(p, LATENCY, "runtimes", "--runtime", nargs="+", choices=list(registry.runtimes()),
                dest="runtime")
    add_setting(p, LATENCY, "batch", nargs="+", type=int_at_least(1))
    add_setting(p, LATENCY, "imgsz", nargs="+", type=int_at_least(32))
    p.add_argument("--backend", nargs="+", default=None, choices=list(backends()),
                   help="attention backend(s), one cell each (default: the model's knob); every cell records the "
                        "kernel that actually ran")
    p.add_argument("--scope", nargs="+", default=["forward"], choices=list(SCOPES),
                   help="forward: model only on a preprocessed tensor (paper convention); end2end: preprocessing + "
                        "forward + NMS on a uint8 image")
    add_setting(p, LATENCY, "threads", type=int_at_least(1))
    add_setting(p, LATENCY, "warmup_iters", type=int_at_least(0))
    add_setting(p, LATENCY, "warmup_s", type=seconds())
    add_setting(p, LATENCY, "min_iters", type=int_at_least(2))
    add_setting(p, LATENCY, "min_s", type=seconds())
    p.add_argument("--max-s", type=seconds(positive=True), default=None,
                   help="cap on the timed phase per cell (default: none)")
    add_setting(p, LATENCY, "processes", type=int_at_least(1))
    p.add_argument("--tf32", action="store_true", help="allow TF32 in fp32 CUDA cells (default: true fp32)")
    p.add_argument("--compile-mode", default=None, help="torch.compile mode (default: torch's default)")
    p.add_argument("--onnx", default=None, help="time this ONNX file in the onnxruntime cells instead of exporting")
    p.add_argument("--workdir", default=None, help="keep exports (ONNX, engines) here (default: a temporary dir)")
    p.add_argument("--out", default=None, help="directory for latency_<hardware>_<device>_<precision>.json files")
    p.add_argument("--json", default=None, help="write the whole result to this file")
    p.add_argument("--tag", default=None, help="extra name part of the --out files (e.g. the model)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a cell failed its correctness gate or errored")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress lines")
    p.set_defaults(func=cmd_latency)
    return p


def cmd_profile(args) -> int:
    from .profile import profile, write_profiles

    check_flags(args)
    profiles = []
    for model, device, imgsz, backend in ((m, d, i, b) for m in _models(args) for d in args.devices
                                          for i in args.imgsz for b in args.backend or [None]):
        p = profile(model, imgsz=imgsz, batch=args.batch, device=device, precision=args.precision, backend=backend,
                    threads=args.threads, min_iters=args.min_iters, min_s=args.min_s, timing=not args.no_timing)
        profiles.append(p)
        lat = (f"  attn latency share {p['attn_latency_share']:.1%} of {p['latency_ms']:.2f} ms"
               if "latency_ms" in p else "")
        mem = f"  peak {p['peak_mem_mb']:.0f} MB" if p["peak_mem_mb"] is not None else ""
        print(f"{p['model']} @{p['imgsz']} {p['device']} {p['precision']} attn={p['attn_backend']}: params "
              f"{p['params']:,} (fused {p['params_fused']:,})  GFLOPs paper {p['gflops']:.3f} true "
              f"{p['gflops_true']:.3f}  attn FLOPs share {p['attn_flops_share']:.1%}{lat}{mem}", flush=True)
    if args.json:
        print(write_profiles(profiles, args.json, args.threads))
    return 0


def add_profile_parser(subparsers) -> argparse.ArgumentParser:
    from ..cliargs import HELP_FORMAT, add_devices, example, int_at_least, seconds

    p = subparsers.add_parser("profile", help="params, GFLOPs (paper and true), attention share of FLOPs and latency, "
                                              "peak memory", formatter_class=HELP_FORMAT,
                              epilog=example("yolov12 profile --scales n s --imgsz 640 --json profile.json"))
    _add_model(p)
    p.add_argument("--imgsz", nargs="+", type=int_at_least(32), default=[640])
    p.add_argument("--batch", type=int_at_least(1), default=1)
    add_devices(p)
    p.add_argument("--precision", default="fp32", choices=list(registry.PRECISIONS))
    p.add_argument("--backend", nargs="+", default=None, choices=list(backends()))
    p.add_argument("--threads", type=int_at_least(1), default=None)
    p.add_argument("--min-iters", type=int_at_least(1), default=10)
    p.add_argument("--min-s", type=seconds(), default=1.0)
    p.add_argument("--no-timing", action="store_true", help="FLOPs and memory only")
    p.add_argument("--json", default=None, help="write {env, profiles} to this file")
    p.set_defaults(func=cmd_profile)
    return p
