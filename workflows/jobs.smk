# Job stage: one rule per job kind of the registry (train, evaluate, complexity, latency, export), generated here.
# A job's spec is a param: Snakemake reruns a job exactly when its spec changes (--rerun-triggers params), and
# the parse writes no file. Resources come from the config (resources.<kind>): gpu and cpus on one node,
# runtime / mem_mb / cpus_per_task / gpu as SLURM requests. Timing jobs also ask SLURM for a node of their own.


def job_inputs(kind, run_dir):
    inputs = {"store": STORE}
    if kind in ("train", "evaluate"):
        inputs["data"] = data_manifest(run_dir)
    for before in JOB_KINDS[kind].after:
        inputs[before] = PLAN.result_path(before, run_dir)
    return inputs


for _kind in JOB_KINDS.values():
    _res = PLAN.resources(_kind.name)

    rule:
        name:
            _kind.name
        input:
            unpack(lambda w, k=_kind.name: job_inputs(k, w.run_dir)),
        output:
            f"{RESULTS}/runs/{{run_dir}}/{_kind.result}",
        params:
            spec=lambda w, k=_kind.name: PLAN.spec_json(k, w.run_dir),
        log:
            f"{RESULTS}/logs/{_kind.name}/{{run_dir}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/{_kind.name}/{{run_dir}}.tsv"
        threads: _res["cpus"]
        resources:
            **PLAN.snakemake_resources(_kind.name),
        retries: _res["retries"]
        shell:
            "OMP_NUM_THREADS={threads} {PYTHON} -m yolov12 workflow run {rule} --spec {params.spec:q} --out {output}"
            " > {log} 2>&1"
