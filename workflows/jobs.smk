# Job stage: one rule per job kind of the registry (train, evaluate, complexity, latency, export), generated here.
# A job's one param is its identity (docs/identity.md): Snakemake reruns a job exactly when its identity changes
# (--rerun-triggers params), or when what it reads was remade (a training's evaluation). Where it runs reaches it
# on its command line, outside the params: the output path, its inputs (the MLflow store's marker, read as
# `ancient`: a new tracking URI remakes the store, not the jobs; its data manifest; the training's result), its GPU
# count from its resources. Resources come
# from the config (resources.<kind>): gpu and cpus on one node, runtime / mem_mb / cpus_per_task / gpu as SLURM
# requests. Timing jobs also ask SLURM for a node of their own.
def _job_inputs(kind, run_dir):
    inputs = PLAN.job_inputs(kind, run_dir, STORE)
    inputs["store"] = ancient(inputs["store"])
    inputs.update(PLAN.damaged_weights(kind, run_dir))
    return inputs


for _kind in JOB_KINDS.values():
    _res = PLAN.resources(_kind.name)

    rule:
        name:
            _kind.name
        input:
            unpack(lambda w, k=_kind.name: _job_inputs(k, w.run_dir)),
        output:
            f"{RESULTS}/runs/{{run_dir}}/{_kind.result}",
        params:
            kind=_kind.name,  # constant per rule (and in the identity): never a trigger of its own
            identity=lambda w, k=_kind.name: PLAN.identity_json(k, w.run_dir),
        log:
            f"{RESULTS}/logs/{_kind.name}/{{run_dir}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/{_kind.name}/{{run_dir}}.tsv"
        threads: _res["cpus"]
        resources:
            **PLAN.snakemake_resources(_kind.name),
            **({"nodes": 1} if _res["gpus"] else {}),  # SLURM must not split a job's GPUs over nodes
        # retries are resubmissions by the main process only: inside a SLURM job they would nest (the rule's value
        # overrides the --retries 0 that the job's own Snakemake is given)
        retries: _res["retries"] if workflow.is_main_process else 0
        shell:
            # each DDP worker (one per GPU) gets its share of the job's CPUs, not all of them; exec: SIGTERM
            # (scancel, preemption, time limit) reaches the training itself, which stops cleanly
            "OMP_NUM_THREADS=$(( {resources.gpu} > 1 && {threads} >= {resources.gpu} ? {threads} / {resources.gpu}"
            " : ({resources.gpu} > 1 ? 1 : {threads}) ))"
            " exec \"$YOLOV12_PYTHON\" -m yolov12 workflow run {params.kind}"
            " --spec {params.identity:q} --out {output} --gpus {resources.gpu} --inputs {input:q} > {log} 2>&1"


# A training whose weights are gone, truncated or replaced since it recorded them (train.json): this job removes the
# training's checkpoints, so the training reruns from nothing, before any job that would read them. The marker
# (named by what was found) stays: an input of the training from then on (Plan.damaged_weights).
rule weights_damaged:
    output:
        f"{RESULTS}/runs/{{run_dir}}/weights.damaged.{{found}}",
    log:
        f"{RESULTS}/logs/weights_damaged/{{run_dir}}.{{found}}.log",
    localrule: True
    shell:
        "(echo 'recorded weights changed: retraining'; rm -rfv $(dirname {output})/train/weights) > {log} 2>&1;"
        " touch {output}"
