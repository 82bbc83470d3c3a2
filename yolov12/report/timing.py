"""Timing cells of latency.csv as the report uses them: which cell stands for a run in a setting (device, precision,
runtime, image size, batch), how a cell is printed (median, its 95 % interval, image size, iterations, the kernel
that ran, a contention flag), and ratios of two cells with an interval from the per-iteration samples."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..registry import runtimes
from .parse import integer, num, read_csv, truthy

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
    """'45.21 [44.90, 45.63] (640×640, 200 it, kernel cpu_flash)': what was measured, under which conditions."""
    ci = interval(row)
    value = f"{latency_ms(row):.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else " [no interval]")
    iters = integer(row.get("iters"))
    cond = [size_text(imgsz(row)), f"{iters} it" if iters is not None else "iterations not recorded"]
    cond.append(f"kernel {row['kernel']}" if row.get("kernel") else "kernel not recorded")
    if contention(row):
        cond.append("CONTENDED")
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


# ------------------------------------------------------------------------------------------------ samples, ratios
class Samples:
    """Per-iteration samples (latency_samples.csv.gz), read on first use, keyed like the latency cells."""

    COLUMNS = ("run_dir", "device", "precision", "runtime", "backend", "batch", "imgsz_h", "imgsz_w")

    def __init__(self, path: Path):
        self.path = Path(path)
        self._by_key: dict[tuple, list[float]] | None = None

    @classmethod
    def key(cls, row: dict[str, str]) -> tuple:
        size = imgsz(row) or (None, None)
        return ((row.get("run_dir") or row.get("variant_dir", "")), row.get("device", ""), row.get("precision", ""),
                row.get("runtime", ""), backend(row), integer(row.get("batch")) or 1, size[0], size[1])

    @property
    def present(self) -> bool:
        return self.path.is_file()

    def of(self, row: dict[str, str] | None) -> list[float] | None:
        if row is None or not self.present:
            return None
        if self._by_key is None:
            self._by_key = {}
            for s in read_csv(self.path):
                ms = num(s.get("ms"))
                if ms is not None and math.isfinite(ms):
                    self._by_key.setdefault(self.key(s), []).append(ms)
        values = self._by_key.get(self.key(row))
        return values if values and len(values) >= 2 else None


@dataclass
class Ratio:
    value: float
    lo: float | None
    hi: float | None
    source: str  # how the interval was obtained

    @property
    def text(self) -> str:
        ci = f" [{self.lo:.2f}, {self.hi:.2f}]" if self.lo is not None else ""
        return f"\u00d7{self.value:.2f}{ci}"


def ratio(slow: dict[str, str], fast: dict[str, str], samples: Samples | None) -> Ratio:
    """median(slow) / median(fast) with a 95 % interval: the bootstrap of the two sample sets when both are stored
    (yolov12.stats.ratio_ci), else the conservative bound from the two medians' intervals, else none."""
    value = latency_ms(slow) / latency_ms(fast)
    a, b = (samples.of(slow), samples.of(fast)) if samples is not None else (None, None)
    if a and b:
        from ..stats import ratio_ci

        _, lo, hi = ratio_ci(a, b)
        return Ratio(value, lo, hi, f"bootstrap of {len(a)} and {len(b)} per-iteration samples")
    ca, cb = interval(slow), interval(fast)
    if ca and cb and cb[0] > 0:
        return Ratio(value, ca[0] / cb[1], ca[1] / cb[0], "bounds of the two medians' intervals (no samples)")
    return Ratio(value, None, None, "no interval (neither samples nor median intervals recorded)")
