# Export stage (task study): ONNX export of the trained model with an output-parity check against PyTorch.


rule export:
    input:
        **job_inputs("export", train=f"{RESULTS}/runs/{{vd}}/train.json"),
    output:
        f"{RESULTS}/runs/{{vd}}/export.json",
    log:
        f"{RESULTS}/logs/export/{{vd}}.log",
    shell:
        "OMP_NUM_THREADS={threads} {PYTHON} -m yolov12 workflow run export --spec {input.spec} --out {output}"
        " > {log} 2>&1"
