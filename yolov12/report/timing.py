"""Timing cells of latency.csv as the report uses them: which cell stands for a run in a setting (device, precision,
runtime, image size, batch), how a cell is printed (median, its 95 % interval, image size, processes and iterations,
the run-to-run CV, the kernel that ran, a contention flag) and what identifies a cell. Comparisons of two cells are
in ``latency_ratios.py``."""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import runtimes
from .parse import integer, num, truthy

NOT_TIMED = "not timed in this config"
PAPER_IMGSZ = (640, 640)  # every latency the paper prints is at 640 x 640
FLASH_KERNELS = ("flash", "flash_attn_pkg")  # FlashAttention proper (CPU's SDPA 'cpu_flash' is not it)
PRECISION_ORDER = ("fp32", "fp16", "bf16")


def device_class(row: dict[str, str]) -> str:
    return "cuda" if str(row.get("device", "")).startswith("cuda") else "cpu"


def device_name(row: dict[str, str]) -> str:
    """The device's name, or the device string (cuda:0) when the row has none (e.g. status unavailable)."""
    return row.get("device_name", "") or row.get("device", "")


def imgsz(row: dict[str, str]) -> tuple[int, int] | None:
    h, w = integer(row.get("imgsz_h")), integer(row.get("imgsz_w"))
    if h is None or w is None:  # a results directory from before the (h, w) columns
        h = w = integer(row.get("imgsz"))
    return None if h is None else (h, w)


def size_text(size: tuple[int, int] | None) -> str:
    return "size not recorded" if size is None else f"{size[0]}\u00d7{size[1]}"


def backend(row: dict[str, str]) -> str:
    return row.get("backend", "") or row.get("attn_backend", "")


def latency_ms(row: dict[str, str] | None) -> float | None:
    """The cell's median; a cell without one has no latency (a mean is a different statistic)."""
    return None if row is None else num(row.get("median_ms"))


def is_ok(row: dict[str, str]) -> bool:
    return row.get("status", "ok") == "ok" and latency_ms(row) is not None


def contention(row: dict[str, str] | None) -> str | None:
    """The contention reason of a cell flagged contended, else None."""
    if row is None or not truthy(row.get("contended", "")):
        return None
    return row.get("contention", "") or "flagged contended"


def interval(row: dict[str, str] | None) -> tuple[float, float] | None:
    lo, hi = (None, None) if row is None else (num(row.get("median_ci_lo")), num(row.get("median_ci_hi")))
    return None if lo is None or hi is None else (lo, hi)


def rel_width(row: dict[str, str] | None) -> float | None:
    """Width of the median's interval relative to the median (0.04 = the interval spans 4 % of it)."""
    ci, ms = interval(row), latency_ms(row)
    return None if ci is None or not ms else (ci[1] - ci[0]) / ms


def timing_text(row: dict[str, str]) -> str:
    """'45.21 [44.90, 45.63] (640×640, 3 runs × 200 it, run-to-run CV 1.2 %, kernel cpu_flash)': what was measured,
    under which conditions; a cell timed in one process says its interval is within-run."""
    ci = interval(row)
    value = f"{latency_ms(row):.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else " [no interval]")
    iters, runs, cv = integer(row.get("iters")), integer(row.get("n_processes")), num(row.get("run_to_run_cv"))
    it = f"{iters} it" if iters is not None else "iterations not recorded"
    cond = [size_text(imgsz(row))]
    if runs is None:
        cond += [it, "within-run interval"]
    else:
        cond += [f"{runs} run{'s' if runs != 1 else ''} \u00d7 {it}",
                 f"run-to-run CV {100 * cv:.1f} %" if cv is not None else "run-to-run CV not recorded"]
    cond.append(f"kernel {row['kernel']}" if row.get("kernel") else "kernel not recorded")
    if contention(row):
        cond.append("CONTENDED")
    verdict = row.get("artifact_verdict")  # a cell that timed an exported file: was it the model? (deployment.md)
    if verdict and verdict != "same model":
        cond.append(verdict.upper() if verdict.startswith("fast") else f"artifact {verdict.split(':')[0]}")
    return f"{value} ({', '.join(cond)})"


@dataclass(frozen=True)
class Setting:
    """Where a latency was measured: device class and name, precision, runtime, image size, batch."""

    device: str
    device_name: str
    precision: str
    runtime: str
    size: tuple[int, int] | None
    batch: int = 1

    @classmethod
    def of(cls, row: dict[str, str]) -> Setting:
        return cls(device_class(row), device_name(row), row.get("precision", ""), row.get("runtime", ""),
                   imgsz(row), integer(row.get("batch")) or 1)

    @property
    def label(self) -> str:
        return (f"{self.device_name or self.device} {self.precision} {self.runtime}, {size_text(self.size)}, "
                f"batch {self.batch}")

    @property
    def short(self) -> str:
        return f"{'GPU' if self.device == 'cuda' else 'CPU'} {self.precision} {self.runtime} {size_text(self.size)}"

    def holds(self, row: dict[str, str]) -> bool:
        return Setting.of(row) == self


def _rank(row: dict[str, str], avoid_flash: bool, want_backend: str | None):
    order = runtimes()
    rt = row.get("runtime", "")
    size = imgsz(row)
    return (integer(row.get("batch")) not in (None, 1),
            avoid_flash and (backend(row) == "flash_attn" or row.get("kernel", "") in FLASH_KERNELS),
            bool(contention(row)),
            want_backend is not None and backend(row) not in (want_backend, ""),
            order.index(rt) if rt in order else len(order),
            size != PAPER_IMGSZ, -(size[0] * size[1] if size else 0))


def pick(run, device: str | None = None, precision: str | None = None, runtime: str | None = None,
         size: tuple[int, int] | None = None, device_match: str | None = None, avoid_flash: bool = False,
         want_backend: str | None = None, setting: Setting | None = None) -> tuple[dict | None, str]:
    """The preferred ``status: ok`` cell of ``run`` under the given constraints, or (None, why there is none)."""
    if run is None:
        return None, "not run in this config"
    if setting is not None:
        device, precision, runtime, size = setting.device, setting.precision, setting.runtime, setting.size
        device_match = device_match or setting.device_name or None
    rows = [r for r in run.latency if (device is None or device_class(r) == device)
            and (precision is None or r.get("precision", "") == precision)
            and (runtime is None or r.get("runtime", "") == runtime)
            and (device_match is None or device_match.lower() in device_name(r).lower())
            and (setting is None or (integer(r.get("batch")) or 1) == setting.batch)]
    sized = [r for r in rows if size is None or imgsz(r) == size]
    ok = [r for r in sized if is_ok(r)]
    if ok:
        return sorted(ok, key=lambda r: _rank(r, avoid_flash, want_backend))[0], ""
    what = " ".join(x for x in ("GPU" if device == "cuda" else "CPU" if device else "", precision or "", runtime or "")
                    if x)
    if size is not None and any(is_ok(r) for r in rows):
        other = sorted({size_text(imgsz(r)) for r in rows if is_ok(r)})
        return None, f"{what} measured at {', '.join(other)} only, not at {size_text(size)}".strip()
    for status in ("unavailable", "failed"):  # a device that cannot run is so at every image size
        bad = [r for r in sized or rows if r.get("status") == status]
        if bad:
            reason = bad[0].get("reason") or status
            return None, reason if status == "unavailable" else f"failed: {reason}"
    if not rows and device and run.device_reasons.get(device):  # e.g. 'no CUDA device' for the whole config
        return None, run.device_reasons[device]
    if not run.latency:
        return None, NOT_TIMED
    return None, f"{what} not measured".strip() + (f" on {device_match}" if device_match else "")


def settings_of(runs) -> list[Setting]:
    """Every setting with an ok cell among ``runs``, CPU first, then by name, precision, runtime, size."""
    seen = {Setting.of(r) for run in runs for r in run.latency if is_ok(r)}
    order = runtimes()
    return sorted(seen, key=lambda s: (s.device != "cpu", s.device_name,
                                       PRECISION_ORDER.index(s.precision) if s.precision in PRECISION_ORDER else 9,
                                       order.index(s.runtime) if s.runtime in order else 99,
                                       s.size != PAPER_IMGSZ, s.size or (0, 0), s.batch))


def choose_setting(runs, prefer=(("cuda", "fp16"), ("cuda", "fp32"), ("cpu", "fp32")),
                   avoid_flash: bool = False) -> Setting | None:
    """The setting in which most of ``runs`` have an ok cell; ties go to the earlier preference, then to the
    paper's image size, then batch 1."""
    best, best_key = None, None
    for setting in settings_of(runs):
        if (setting.device, setting.precision) not in prefer:
            continue
        count = sum(pick(run, setting=setting, avoid_flash=avoid_flash)[0] is not None for run in runs)
        key = (-count, prefer.index((setting.device, setting.precision)), setting.size != PAPER_IMGSZ,
               setting.batch != 1)
        if count and (best_key is None or key < best_key):
            best, best_key = setting, key
    return best


# ------------------------------------------------------------------------------------------------ cell identity
CELL_FIELDS = ("run_dir", "device", "device_name", "precision", "runtime", "backend", "kernel", "threads", "scope",
               "batch", "imgsz_h", "imgsz_w")


def cell_key(row: dict[str, str]) -> tuple:
    """What one timing cell is: its identity digest (``cell_id``) when the aggregation wrote one, else every setting
    column of the row (run directory, device, precision, runtime, kernel setting and kernel, threads, scope, batch,
    image size), so that cells of different settings are never taken for one."""
    if row.get("cell_id"):
        return ("cell", row["cell_id"])
    return tuple(row.get(k, "") or (row.get("variant_dir", "") if k == "run_dir" else "") for k in CELL_FIELDS)
