# Data stage: the synthetic sets (embedded default) or COCO / ImageNet / DOTA prepared from the user's copies.
from pathlib import Path

SYN = config["data"]["synthetic"]  # validated, defaults filled in
# what a data job uses (one CPU; memory and time for decoding / converting COCO and ImageNet)
DATA_RESOURCES = {"synth": {"mem_mb": 2000, "runtime": 30}, "real": {"mem_mb": 16000, "runtime": 720}}


rule data_synth:
    output:
        f"{RESULTS}/data/{{task}}/dataset.json",
    log:
        f"{RESULTS}/logs/data/{{task}}.log",
    resources:
        **DATA_RESOURCES["synth"],
    params:
        out=lambda w: f"{RESULTS}/data/{w.task}",
        height=f"--height {SYN['height']}" if SYN["height"] else "",
    shell:
        "{PYTHON} -m yolov12 data synth --task {wildcards.task} --out {params.out} --n-train {SYN[n_train]}"
        " --n-val {SYN[n_val]} --imgsz {SYN[imgsz]} {params.height} --nc {SYN[nc]} --max-objects {SYN[max_objects]}"
        " --seed {SYN[seed]} > {log} 2>&1"


rule data_coco:
    output:
        f"{RESULTS}/data/coco/coco.json",
    log:
        f"{RESULTS}/logs/data/coco.log",
    resources:
        **DATA_RESOURCES["real"],
    params:
        root=config["data"]["coco_root"],
        download="--download" if config["data"]["coco_download"] else "",
    shell:
        "{PYTHON} -m yolov12 data coco --root {params.root} --out {RESULTS}/data/coco {params.download} > {log} 2>&1"


rule data_imagenet:
    output:
        f"{RESULTS}/data/imagenet/imagenet.json",
    log:
        f"{RESULTS}/logs/data/imagenet.log",
    resources:
        **DATA_RESOURCES["real"],
    params:
        tree=config["data"]["imagenet_root"],
    shell:
        "{PYTHON} -m yolov12 data imagenet --tree {params.tree} --out {RESULTS}/data/imagenet > {log} 2>&1"


if config["data"]["dota_root"]:

    rule data_dota:
        output:
            str(Path(config["data"]["dota_root"]) / "dota.yaml"),
        log:
            f"{RESULTS}/logs/data/dota.log",
        resources:
            **DATA_RESOURCES["real"],
        shell:
            "{PYTHON} -m yolov12 data dota --root {config[data][dota_root]} > {log} 2>&1"
