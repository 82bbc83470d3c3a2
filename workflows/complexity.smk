# Complexity stage: params (unfused, BN-fused) and paper-convention GFLOPs of every scale of a model family.


rule complexity:
    output:
        "results/{config_name}/complexity/{family}.csv",
    log:
        "results/{config_name}/logs/complexity/{family}.log",
    shell:
        "{PYTHON} -m yolov12 summary --family {wildcards.family} --csv {output} > {log} 2>&1"
