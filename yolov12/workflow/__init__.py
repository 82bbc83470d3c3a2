"""The Snakemake workflow's Python side: studies, job specs, jobs, MLflow tracking, aggregation."""
