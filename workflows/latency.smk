# Latency stage: the latency harness over the config's device x precision x runtime matrix, per run's model.


rule latency:
    input:
        **job_inputs("latency"),
    output:
        f"{RESULTS}/runs/{{vd}}/latency.json",
    log:
        f"{RESULTS}/logs/latency/{{vd}}.log",
    threads: config["latency"]["threads"]
    resources:
        gpu=1 if config["latency"]["gpu"] else 0,
    shell:
        "OMP_NUM_THREADS={threads} {PYTHON} -m yolov12 workflow run latency --spec {input.spec} --out {output}"
        " > {log} 2>&1"
