# Data stage: the synthetic sets (embedded default) or COCO / ImageNet / DOTA prepared from the user's copies.
# Each data job uses one CPU (resources: memory and time for decoding / converting COCO and ImageNet).


rule data_synth:
    output:
        f"{RESULTS}/data/{{task}}/dataset.json",
    log:
        f"{RESULTS}/logs/data/{{task}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/data/{{task}}.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        out=lambda w: f"{RESULTS}/data/{w.task}",
        options=PLAN.synth_options(),
    shell:
        "\"$YOLOV12_PYTHON\" -m yolov12 data synth --task {wildcards.task} --out {params.out} {params.options} > {log} 2>&1"


rule data_coco:
    output:
        f"{RESULTS}/data/coco/coco.json",
    log:
        f"{RESULTS}/logs/data/coco.log",
    resources:
        mem_mb=16000,
        runtime=720,
    params:
        root=config["data"]["coco_root"],
        out=lambda w, output: os.path.dirname(output[0]),
        download="--download" if config["data"]["coco_download"] else "",
    shell:
        "\"$YOLOV12_PYTHON\" -m yolov12 data coco --root {params.root} --out {params.out} {params.download} > {log} 2>&1"


rule data_imagenet:
    output:
        f"{RESULTS}/data/imagenet/imagenet.json",
    log:
        f"{RESULTS}/logs/data/imagenet.log",
    resources:
        mem_mb=16000,
        runtime=720,
    params:
        tree=config["data"]["imagenet_root"],
        out=lambda w, output: os.path.dirname(output[0]),
    shell:
        "\"$YOLOV12_PYTHON\" -m yolov12 data imagenet --tree {params.tree} --out {params.out} > {log} 2>&1"


if config["data"]["dota_root"]:

    rule data_dota:
        output:
            os.path.join(config["data"]["dota_root"], "dota.yaml"),
        log:
            f"{RESULTS}/logs/data/dota.log",
        resources:
            mem_mb=8000,
            runtime=120,
        params:
                root=config["data"]["dota_root"],
        shell:
            "\"$YOLOV12_PYTHON\" -m yolov12 data dota --root {params.root} > {log} 2>&1"
