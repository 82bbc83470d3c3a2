# Report stage: paper-style tables beside the paper's numbers, every study's table and figure, verdicts; Markdown +
# PDF + LaTeX (yolov12/report/). `snakemake --report report.html` packs the figures into Snakemake's own HTML report.
report: "report/workflow.rst"


rule report:
    input:
        rules.aggregate.output,
        store=ancient(STORE),
        cost=rules.cost_predicted.output,  # the prediction the report's cost table sets beside the benchmarks
    output:
        md=report(f"{REPORTS}/report.md", caption="report/table.rst", category="Report"),
        pdf=report(f"{REPORTS}/report.pdf", caption="report/table.rst", category="Report"),
        figures=report(directory(f"{REPORTS}/figures"), patterns=["{name}.svg"], caption="report/figure.rst",
                       category="Figures", labels={"figure": "{name}"}),
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report/{PLAN.name}.tsv"
    params:
        results=lambda w, input: os.path.dirname(input[0]),
        out=lambda w, output: os.path.dirname(output.md),
        name=PLAN.name,
        logs=f"--reference-logs {config['reference_logs']}" if config["reference_logs"] else "",
        synthetic="--synthetic" if config["data"]["kind"] == "synthetic" else "--not-synthetic",
    localrule: True
    shell:
        "(\"$YOLOV12_PYTHON\" -m yolov12 report --results {params.results} --out {params.out} --config-name {params.name}"
        " {params.logs} {params.synthetic} && \"$YOLOV12_PYTHON\" -m yolov12 workflow log-report --uri \"$(cat {input.store})\""
        " --results {params.results} --config-name {params.name} {output.md} {output.pdf}) > {log} 2>&1"
