"""tests/gpu/check.sh's last step: every step's records into ONE folder — summary.md, results.json and figures.

At most a handful of files (the device tool brings back 8): summary.md, results.json, fig_latency.png,
fig_equivalence.png, fig_compile_isolation.png (check.sh adds check.log and pytest.txt).
"""

from __future__ import annotations

import json
from pathlib import Path

STEPS = ("env", "equivalence", "matrix", "compile", "ultralytics", "isolation", "roofline", "artifact")


def load(work: Path) -> dict[str, list[dict]]:
    out = {}
    for step in STEPS:
        f = work / f"{step}.jsonl"
        out[step] = [json.loads(line) for line in f.read_text().splitlines() if line.strip()] if f.exists() else []
    return out


def cells(records: list[dict]) -> list[dict]:
    return [{**c, "scale": r["scale"]} for r in records for c in r.get("cells", [])]


def _ci(c: dict) -> str:
    lo, hi = c.get("median_ci_ms") or (None, None)
    return f"{c['median_ms']:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None else f"{c['median_ms']:.3f}"


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]


def summary(data: dict, smoke: bool) -> str:
    lines = ["# GPU check" + (" (SMOKE: no CUDA here, tiny CPU run of the same code)" if smoke else ""), ""]
    for r in data["env"][:1]:
        e = r["env"]
        for g in e.get("gpus") or []:
            nv = g.get("nvml") or {}
            lines.append(f"- GPU {g['index']}: {g['name']}, sm{g['capability']}, {g['memory_gb']} GB, uuid "
                         f"{g['uuid']}, driver {nv.get('driver')}, power limit {nv.get('power_limit_w')} W")
        lines += [f"- CPU: {e['cpu_model']}, ISA {' '.join(e['cpu_isa'])}, torch {e['torch_cpu_capability']}",
                  f"- torch {e['software']['torch']}, CUDA {e.get('cuda_runtime')}, cuDNN {e.get('cudnn')}, "
                  f"ultralytics {e['software']['ultralytics']}, onnxruntime {e['software']['onnxruntime']} "
                  f"{e['software']['onnxruntime_providers']}, flash_attn {e['software']['flash_attn']}", ""]
    eq = data["equivalence"]
    if eq:
        lines += ["## Backend equivalence (whole model vs fp32 naive, gate metric)", ""]
        lines += _table(["scale", "precision", "backend", "status", "max_rel_err", "tolerance", "kernel"],
                        [[r["scale"], r["precision"], r["backend"], r["status"],
                          f"{r['max_rel_err']:.2e}" if r.get("max_rel_err") is not None else "",
                          r.get("tolerance", ""), r.get("kernel") or r.get("reason", "")] for r in eq]) + [""]
    for step, title in (("matrix", "Latency matrix"), ("compile", "torch.compile"),
                        ("isolation", "Timing isolation (alone, then with another process on the device)")):
        cs = cells(data[step])
        if not cs:
            continue
        ok = [c for c in cs if c["status"] == "ok"]
        lines += [f"## {title}", "", f"{len(ok)} ok, {len(cs) - len(ok)} not timed of {len(cs)} cells", ""]
        lines += _table(["scale", "precision", "runtime", "backend", "kernel", "median ms [95 % CI]", "p90", "n",
                         "contended"],
                        [[c["scale"], c["precision"], c["runtime"], c["backend"], c["kernel"], _ci(c),
                          f"{c['p90_ms']:.3f}", c["iters"], c["contention"] or "no"] for c in ok]) + [""]
        reasons = sorted({(c["status"], c["reason"], c["runtime"], c["backend"], c["precision"]) for c in cs
                          if c["status"] != "ok"})
        lines += [f"- {s} {rt} / {b} / {p}: {why}" for s, why, rt, b, p in reasons] + [""]
    ul = data["ultralytics"]
    if ul:
        lines += ["## Ours vs Ultralytics (identical weights)", ""]
        for r in ul:
            if r["what"] == "attention_module":
                lines.append(f"- AreaAttention dim {r['dim']} heads {r['heads']} area {r['area']} {r['h']}x{r['w']} "
                             f"{r['precision']}: median ms {_fmt(r['median_ms'])}; Ultralytics / ours "
                             f"{_fmt(r['ratio_theirs_over_ours'])}; kernels {r.get('kernel')}")
            else:
                lines.append(f"- whole yolov12n vs yolo12n {r['precision']}: median ms {_fmt(r['median_ms'])}, "
                             f"Ultralytics / ours {r['ratio_theirs_over_ours']}")
        lines.append("")
    return "\n".join(lines + roofline_lines(data["roofline"]) + artifact_lines(data["artifact"]))


def roofline_lines(records: list[dict]) -> list[str]:
    """The device's measured peaks and each timed cell on its roofline (yolov12.latency.roofline)."""
    if not records:
        return []
    lines = ["## Roofline (measured peaks; each timed cell against them)", ""]
    for r in (r for r in records if r["what"] == "peaks"):
        gemm = ", ".join(f"{p} {(g.get('flops_per_s') or 0) / 1e12:.2f} TFLOP/s" for p, g in r["gemm"].items())
        lines.append(f"- {r['device_key']}: GEMM {gemm}; copy {r['copy']['bytes_per_s'] / 1e9:.1f} GB/s "
                     f"(probes {r['wall_s']:.1f} s)")
    rows = [(c, c.get("roofline") or {}) for c in (r["cell"] for r in records if r["what"] == "cell")]
    lines += [""] + _table(["precision", "runtime", "imgsz", "kernel", "median ms", "GFLOP/s", "FLOP/B",
                            "% of peak", "bound"],
                           [[c["precision"], c["runtime"], c["imgsz"], c.get("kernel"), f"{c['median_ms']:.3f}",
                             f"{r['achieved_flops_per_s'] / 1e9:.1f}", f"{r['arithmetic_intensity']:.1f}",
                             f"{100 * (r.get('fraction_of_peak') or 0):.1f}", r.get("bound")]
                            if r else [c["precision"], c["runtime"], c.get("imgsz"), c.get("kernel"),
                                       c.get("median_ms"), "", "", "", c.get("reason") or c.get("status")]
                            for c, r in rows]) + [""]
    return lines


def artifact_lines(records: list[dict]) -> list[str]:
    """The fp16 artifact scored beside fp32 eager (yolov12.evaluate.artifact), or why it did not run."""
    if not records:
        return []
    lines = ["## fp16 artifact against fp32 eager", ""]
    for r in records:
        if r.get("skipped"):
            lines.append(f"- skipped: {r['skipped']}")
            continue
        lines.append(f"- {r['format']} fp16: AP {r['ap_artifact']:.4f} vs eager {r['ap_eager']:.4f}, "
                     f"ΔAP {r['delta']:+.4f} [{r['lo']:+.4f}, {r['hi']:+.4f}], same model: {r['same_model']}, "
                     f"sha256 {r['artifact']['sha256'][:12]}, trained in {r['train_s']:.0f} s, {r['wall_s']:.0f} s "
                     "in all")
    return lines + [""]


def _fmt(d: dict) -> str:
    return ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in (d or {}).items())


def _bars(ax, groups: list[str], series: dict[str, list], title: str, ylabel: str, log: bool = False) -> None:
    import numpy as np

    width = 0.8 / max(1, len(series))
    for i, (name, vals) in enumerate(series.items()):
        med = [v[0] if v else np.nan for v in vals]
        err = [[v[0] - v[1] if v else 0 for v in vals], [v[2] - v[0] if v else 0 for v in vals]]
        ax.bar(np.arange(len(groups)) + i * width, med, width, yerr=err, capsize=2, label=name)
    ax.set_xticks(np.arange(len(groups)) + width * (len(series) - 1) / 2, groups, rotation=30, ha="right",
                  fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=6)


def _med(c: dict | None):
    if not c or c["status"] != "ok":
        return None
    lo, hi = c["median_ci_ms"]
    return (c["median_ms"], lo, hi)


def figures(data: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    cs = cells(data["matrix"])
    if cs:
        scales = sorted({c["scale"] for c in cs})
        fig, axes = plt.subplots(1, len(scales), figsize=(6 * len(scales), 4), squeeze=False)
        for ax, scale in zip(axes[0], scales):
            mine = [c for c in cs if c["scale"] == scale]
            groups = sorted({(c["precision"], c["runtime"]) for c in mine if c["status"] == "ok"})
            by = {(c["precision"], c["runtime"], c["backend"]): c for c in mine}
            backends = sorted({c["backend"] for c in mine if c["status"] == "ok"})
            _bars(ax, [f"{p} {r}" for p, r in groups], {b: [_med(by.get((p, r, b))) for p, r in groups]
                                                        for b in backends},
                  f"yolov12{scale}: median latency, 95 % CI", "ms")
        written.append(out / "fig_latency.png")
        fig.tight_layout()
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    eq = [r for r in data["equivalence"] if r.get("max_rel_err") is not None]
    if eq:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        labels = [f"{r['scale']} {r['precision']} {r['backend']}" for r in eq]
        ax.bar(range(len(eq)), [max(r["max_rel_err"], 1e-9) for r in eq], color="tab:blue")
        for tol in sorted({r["tolerance"] for r in eq}):
            ax.axhline(tol, ls="--", lw=0.8, color="tab:red")
        ax.set_xticks(range(len(eq)), labels, rotation=45, ha="right", fontsize=6)
        ax.set_yscale("log")
        ax.set_title("backend equivalence: max relative error vs fp32 naive (dashed: tolerances)", fontsize=9)
        written.append(out / "fig_equivalence.png")
        fig.tight_layout()
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    comp, iso = cells(data["compile"]), cells(data["isolation"])
    if comp or iso:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        groups = sorted({(c["scale"], c["precision"]) for c in comp})
        eager = {(c["scale"], c["precision"]): c for c in cs if c["runtime"] == "eager" and c["backend"] == "sdpa"}
        compiled = {(c["scale"], c["precision"]): c for c in comp}
        _bars(axes[0], [f"{s} {p}" for s, p in groups], {"eager (sdpa)": [_med(eager.get(g)) for g in groups],
                                                        "compile (auto)": [_med(compiled.get(g)) for g in groups]},
              "torch.compile vs eager", "ms")
        runs = {f"run {i + 1} ({'alone' if i == 0 else 'other process busy'}): "
                f"{'flagged contended' if c['contended'] else 'not flagged'}": [_med(c)] for i, c in enumerate(iso)}
        _bars(axes[1], ["yolov12n"], runs, "timing isolation (reasons in summary.md)", "ms")
        written.append(out / "fig_compile_isolation.png")
        fig.tight_layout()
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written


def write(work: Path, out: Path, smoke: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = load(work)
    (out / "summary.md").write_text(summary(data, smoke))
    (out / "results.json").write_text(json.dumps({"smoke": smoke, **data}, indent=1, default=str))
    for p in figures(data, out):
        print("figure", p)
    print(f"summary {out / 'summary.md'}")
