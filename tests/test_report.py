"""The report stage: real rendering of the fixture results (tests/fixtures/report/) into Markdown, PDF, LaTeX,
figures and captions; verdicts; the paper transcription (against the development reference when it is present)."""

import yolov12  # noqa: F401  (offline defaults before anything imports ultralytics)

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from yolov12.report import figure_list, render_report
from yolov12.report.cli import add_report_parser
from yolov12.report.data import load_results, paper_rows, read_csv

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "report"
REFERENCE = ROOT.parent / "shared" / "reference"  # development copy of the paper tables; tests skip without it
TABLES = ["1", "1 (latency)", "2", "3", "4", "5a", "5b", "5c", "5d", "5e", "5f", "5g", "5h", "6"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "reports" / "fixture"
    paths = render_report(FIXTURES, out, "fixture", reference_logs=FIXTURES / "reference_logs",
                          provenance={"git_commit": "0123abc", "mlflow_tracking_uri": "file:mlruns"})
    return out, paths, Path(paths["markdown"]).read_text()


@pytest.fixture(scope="module")
def verdicts(report):
    return {v["id"]: v for v in json.loads((report[0] / "verdicts.json").read_text())}


def test_every_table_heading_and_the_verdicts_are_in_markdown(report):
    _, _, md = report
    for number in TABLES:
        assert re.search(rf"^### Table {re.escape(number)}: ", md, re.M), f"Table {number} missing"
    assert "## Reproduction verdicts" in md
    assert "### Other studies (no paper row)" in md  # a study with no paper row is still reported
    assert "### Other tasks beside the official README" in md
    assert md.index("## Reproduction verdicts") < md.index("### Table 1: ")


def test_did_not_converge_rows_and_missing_cells_with_reasons(report):
    _, _, md = report
    table2 = md[md.index("### Table 2: "):md.index("### Table 3: ")]
    assert "no (diverged at epoch 4)" in table2 and "\u2014 (did not converge)" in table2
    assert "\u2014 (not trained in this config)" in table2
    # latency rows with status unavailable show their reason; cells the config did not produce say why
    assert "\u2014 (no CUDA device)" in md[md.index("### Table 3: "):md.index("### Table 4: ")]
    assert "\u2014 (not computed in this config)" in md[md.index("### Table 1: "):md.index("### Table 2: ")]
    assert "\u2014 (not trained in this config)" in md[md.index("### Table 5c: "):md.index("### Table 5d: ")]


def test_measured_numbers_beside_the_paper_with_delta_and_provenance(report):
    _, _, md = report
    row = next(line for line in md.splitlines() if line.startswith("| YOLOv12-N | 6.49 |"))
    assert "| 6.5 | \u22120.01 |" in row and "| 40.5 | 40.6 | \u22120.1 |" in row
    speedup = next(line for line in md.splitlines() if line.startswith("| YOLOv12-N | **speed-up** |"))
    assert "**\u00d71.82**" in speedup and "\u00d72.00" in speedup
    # every reference id in the tables resolves to a run id and a results file
    accuracy = read_csv(FIXTURES / "accuracy.csv")
    assert accuracy[0]["mlflow_run_id"] in md and accuracy[0]["results_file"] in md
    ids = set(re.findall(r"\[(R\d+)\]\(#r\d+\)", md))
    anchors = set(re.findall(r'<a id="r\d+"></a>(R\d+)', md))
    assert ids and ids <= anchors
    for text in ("| Config | fixture |", "| Git commit | 0123abc |", "torch ", "ultralytics ", "mlflow_tracking_uri"):
        assert text in md


def test_verdicts_decide_with_numbers(verdicts):
    assert verdicts["complexity-n"]["status"] == "reproduced"
    assert verdicts["area-cpu-n"]["status"] == "reproduced" and "\u00d71.82" in verdicts["area-cpu-n"]["evidence"]
    assert verdicts["residual-scaling-l"]["status"] == "reproduced"
    assert "diverged at epoch 3" in verdicts["residual-scaling-l"]["evidence"]
    assert verdicts["relan-cheaper-n"]["status"] == "reproduced"
    assert verdicts["flash-n"]["label"] == "not measured (no CUDA device)"
    assert verdicts["accuracy-m"]["label"] == "not measured (not trained in this config)"
    assert verdicts["t4-latency-n"]["status"] == "not measured"
    assert {v["status"] for v in verdicts.values()} <= {"reproduced", "not reproduced", "not measured"}


def test_figures_captions_and_snakemake_list(report):
    out, paths, md = report
    items = figure_list(out)
    assert [str(f) for f, _, _ in items] == paths["figures"]
    categories = {c for _, _, c in items}
    assert categories == {"Trade-offs", "Ablations", "Latency", "Training curves"}
    for fig, caption, _ in items:
        assert fig.is_file() and fig.stat().st_size > 1000 and fig.read_text().lstrip().startswith("<?xml")
        assert caption.is_file() and caption.suffix == ".rst" and caption.read_text().strip()
        assert f"]({fig.relative_to(out).as_posix()})" in md  # relative image link
    names = {f.name for f, _, _ in items}
    assert {"fig1_latency_ap.svg", "fig1_flops_ap.svg", "ablation_relan.svg"} <= names
    assert sum(n.startswith("curves_") for n in names) == 2
    overlay = next(c for f, c, _ in items if "scales_v1_yolov12n" in f.name)
    assert "yolov12n.csv" in overlay.read_text()  # reference log drawn under our curve


def test_latex_snippets_use_booktabs(report):
    out, paths, _ = report
    names = {Path(p).stem for p in paths["tables"]}
    expected = {"table1", "table1_latency", "table2", "table3", "table4", "table6", "verdicts", "provenance"}
    assert expected | {f"table5{s}" for s in "abcdefgh"} <= names
    for path in paths["tables"]:
        tex = Path(path).read_text()
        assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex, path
        assert "\\begin{tabular}" in tex and "\u2014" not in tex


def test_pdf_renders(report, tmp_path):
    pdf = Path(report[1]["pdf"])
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / "page")], check=True,
                       capture_output=True, timeout=60)
        pages = sorted(tmp_path.glob("page*.png"))
        assert len(pages) >= 1 and all(p.stat().st_size > 0 for p in pages)
    else:  # no poppler: count page objects in the file itself
        assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 1
    if shutil.which("pdffonts"):
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
        rows = fonts.splitlines()[2:]
        assert rows and all(" yes " in r for r in rows), fonts  # every font embedded
    if shutil.which("pdfimages"):
        images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert len(images.splitlines()) <= 2, images  # figures are vector, no raster images


def test_synthetic_default_config_via_cli(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    results = tmp_path / "results" / "default"
    shutil.copytree(FIXTURES, results, ignore=shutil.ignore_patterns("reference_logs"))
    out = tmp_path / "reports" / "default"
    args = parser.parse_args(["report", "--results", str(results), "--out", str(out), "--no-pdf"])
    assert args.func(args) == 0
    md = (out / "report.md").read_text()
    assert "Smoke run on synthetic data" in md and "NOT comparable" in md
    verdicts = json.loads((out / "verdicts.json").read_text())
    accuracy = [v for v in verdicts if v["id"].startswith(("accuracy-", "relan-accuracy", "residual-scaling",
                                                           "area-accuracy"))]
    assert accuracy and all(v["label"] == "not measured (synthetic data)" for v in accuracy)
    assert any(v["status"] == "reproduced" for v in verdicts)  # complexity and latency are still judged
    assert "\u2014 (synthetic data, not comparable)" in md
    assert not (out / "report.pdf").exists() and (out / "report.typ").is_file()


def test_other_variants_and_tasks_are_reported(report):
    _, _, md = report
    table3 = md[md.index("### Table 3: "):md.index("### Table 4: ")]
    assert "| YOLOv12-N | l2 | 41.77 |" in table3  # an area count the paper did not run: ours only
    tasks = md[md.index("### Other tasks beside the official README"):]
    assert "| YOLOv12-N (segment) | box AP50:95 | 39.5 | 39.9 | \u22120.4 |" in tasks
    assert "| top-1 | 71.0 | 71.7 |" in tasks


def test_mapping_is_data(tmp_path):
    mapping = tmp_path / "mapping.csv"
    mapping.write_text("study,study_table,variant,family,task,scale,paper_rows\n"
                       "my_study,*,foo,yolov12,detect,*,t5d.{scale}.3;t5d.{scale}.11\n")
    results = load_results(FIXTURES, mapping=mapping)
    run = next(r for r in results.runs if r.study == "my_study")
    assert run.paper == ("t5d.n.3",)  # unknown paper rows are ignored
    assert results.runs_in_table("5d")[0] is run


def test_product_does_not_read_the_shared_reference():
    for path in (ROOT / "yolov12" / "report").rglob("*.py"):
        assert "shared" not in path.read_text(), path


def _reference(name):
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip("development reference tables not present")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _same(a: str, b: str) -> bool:
    return (a.strip() == b.strip() == "") or (a.strip() != "" and b.strip() != "" and float(a) == float(b))


def test_paper_transcription_matches_the_reference():
    rows = paper_rows()
    for r in _reference("paper_table1_coco.csv"):
        p = rows["t1." + r["model"].lower()]
        for mine, theirs in (("flops_g", "flops_g"), ("params_m", "params_m"), ("ap", "ap_50_95"), ("ap50", "ap_50"),
                             ("ap75", "ap_75"), ("latency_t4_trt_fp16_ms", "latency_ms_t4_trt_fp16")):
            assert _same(p[mine], r[theirs]), (r["model"], mine)
        if r["ap_small_table6"]:
            t6 = rows["t6." + r["scale"].lower()]
            assert [float(t6[k]) for k in ("ap_small", "ap_medium", "ap_large")] == \
                [float(r[k]) for k in ("ap_small_table6", "ap_medium_table6", "ap_large_table6")]
    t2 = [p for k, p in rows.items() if k.startswith("t2.")]
    ref2 = _reference("paper_table2_relan.csv")
    assert len(t2) == len(ref2)
    for p, r in zip(t2, ref2):
        assert p["scale"] == r["model"][-1].lower() and p["converged"] == r["converged"]
        assert (p["vanilla"], p["re_aggregation"], p["residual"]) == (r["vanilla_elan"], r["re_aggregation"],
                                                                      r["residual"])
        for mine, theirs in (("scaling", "scaling_factor"), ("flops_g", "flops_g"), ("params_m", "params_m"),
                             ("ap", "ap_50_95")):
            assert _same(p[mine], r[theirs])
    for r in _reference("paper_table3_area_attention.csv"):
        p = rows[f"t3.{r['model'][-1].lower()}.{'on' if r['area_attention'] == 'yes' else 'off'}"]
        for col in ("rtx3080_fp32_ms", "a5000_fp32_ms", "rtx3080_fp16_ms", "a5000_fp16_ms"):
            assert _same(p[col], r[col])
        assert _same(p["cpu_ms"], r["cpu_i7_10700k_ms"])
    for r in _reference("paper_table4_speed.csv"):
        p = rows[f"t4.{r['family'].lower()}.{r['scale'].lower()}"]
        for col in ("flops_g", "rtx3080_fp32_ms", "rtx3080_fp16_ms", "a5000_fp32_ms", "a5000_fp16_ms",
                    "a6000_fp32_ms", "a6000_fp16_ms"):
            assert _same(p[col], r[col])
    t5 = [p for k, p in rows.items() if k.startswith("t5")]
    ref5 = _reference("paper_diagnostics.csv")
    assert len(t5) == len(ref5)
    for p, r in zip(t5, ref5):
        assert f"Table 5({p['table'][-1]})" == r["table"] and p["scale"] == r["model"][-1].lower()
        assert _same(p["ap"], r["ap_50_95"]) and _same(p["latency_ms"], r["latency_ms"])
        assert (p["default"] == "yes") == (r["is_default"] == "default")
    for r in _reference("readme_results.csv"):
        scale = re.search(r"12([nsmlx])", r["model"]).group(1)
        p = rows[f"readme.{r['variant']}.{scale}"]
        for mine, theirs in (("map_box", "map_50_95_box"), ("map_mask", "map_50_95_mask"), ("top1", "top1_acc"),
                             ("top5", "top5_acc"), ("latency_t4_trt_ms", "latency_ms_t4_tensorrt10"),
                             ("params_m", "params_m"), ("flops_g", "flops_g")):
            assert _same(p[mine], r[theirs]), (r["model"], mine)
