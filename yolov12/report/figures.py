"""Every figure of the report: Figure 1's trade-offs (``plots``), one figure per study (``plot_studies``), the
training curves and latency distributions (``plot_runs``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from .cells import Ctx
from .data import Results
from .deployment import roofline_figures
from .plot_runs import curve_run_dir, latency_distributions, training_curves
from .plot_studies import study_figures
from .plots import RC, FigureInfo, tradeoff


def make_figures(results: Results, out: Path, synthetic: bool, reference_dir=None) -> list[FigureInfo]:
    out = Path(out)
    with matplotlib.rc_context(RC):
        ctx = Ctx(results, synthetic)
        infos = [tradeoff(results, out, synthetic, "latency"), tradeoff(results, out, synthetic, "flops")]
        infos += study_figures(ctx, out)
        infos += latency_distributions(results, out)
        infos += roofline_figures(results, out)
        k, drawn = 0, set()
        for run in results.runs:
            if run.curves and curve_run_dir(run) not in drawn:
                drawn.add(curve_run_dir(run))
                info = training_curves(run, out, reference_dir, k)
                if info:
                    infos.append(info)
                    k += 1
    return infos
