# Train stage: one Ultralytics training per run directory, resumable, divergence recorded as a result.


rule train:
    input:
        **job_inputs("train", data=data_manifest),
    output:
        f"{RESULTS}/runs/{{vd}}/train.json",
    log:
        f"{RESULTS}/logs/train/{{vd}}.log",
    threads: config["train"]["threads"]
    resources:
        gpu=0 if str(config["train"]["device"]) == "cpu" else 1,
    shell:
        "OMP_NUM_THREADS={threads} {PYTHON} -m yolov12 workflow run train --spec {input.spec} --out {output}"
        " > {log} 2>&1"
