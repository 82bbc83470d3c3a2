# Complexity stage: params (unfused, BN-fused) and paper-convention GFLOPs of every run's model.


rule complexity:
    input:
        **job_inputs("complexity"),
    output:
        f"{RESULTS}/runs/{{vd}}/complexity.json",
    log:
        f"{RESULTS}/logs/complexity/{{vd}}.log",
    shell:
        "OMP_NUM_THREADS={threads} {PYTHON} -m yolov12 workflow run complexity --spec {input.spec} --out {output}"
        " > {log} 2>&1"
