# Evaluate stage: yolov12 val (COCO toolkit) on the trained checkpoint.


rule evaluate:
    input:
        **job_inputs("evaluate", train=f"{RESULTS}/runs/{{vd}}/train.json", data=data_manifest),
    output:
        f"{RESULTS}/runs/{{vd}}/eval.json",
    log:
        f"{RESULTS}/logs/evaluate/{{vd}}.log",
    resources:
        gpu=0 if str(config["train"]["device"]) == "cpu" else 1,
    shell:
        "OMP_NUM_THREADS={threads} {PYTHON} -m yolov12 workflow run evaluate --spec {input.spec} --out {output}"
        " > {log} 2>&1"
