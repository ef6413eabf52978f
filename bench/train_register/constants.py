"""What train_register measures: the data, its paths, the import groups, the parts and MLflow calls the
timing shims separate, and the (informational) targets."""

from __future__ import annotations

WORKERS = "bench.train_register.workers"  # the module the worker processes run
PIPELINE = "flights"
FIRST_DAY, DAYS = "2013-01-01", 365
WINDOW_DAYS, HOLDOUT_DAYS = 365, 30
BENCH_ACCURACY_FLOOR = 0.65
TARGET_OVERHEAD = 0.30   # orchestration and logging add at most 30% to the baseline (informational)
TARGET_LOG_MODEL = 1.0   # seconds for mlflow.sklearn.log_model (informational)
KINDS = {"baseline": "baseline (plain script)", "product": "product (model_steps + MLflow)",
         "airflow": "airflow dag.test"}
OVERHEAD_OF = {"product": "product / baseline (logging)", "airflow": "airflow / baseline (orchestration + logging)"}

# Libraries each path uses, imported one after the other up front so imports are timed on their own.
BASE_IMPORTS = [
    ("pandas", ["pandas"]),
    ("pyarrow.parquet", ["pyarrow.parquet"]),
    ("scikit-learn", ["sklearn.linear_model", "sklearn.ensemble", "sklearn.compose", "sklearn.impute",
                      "sklearn.pipeline", "sklearn.preprocessing", "sklearn.metrics"]),
    ("evidently", ["evidently", "evidently.metrics", "evidently.tests"]),
    ("mlcycle (training, gating)", ["mlcycle.core.config", "mlcycle.core.storage", "mlcycle.core.training",
                                   "mlcycle.core.gating"]),
]
PRODUCT_IMPORTS = [
    *BASE_IMPORTS,
    ("mlflow (+ mlflow.sklearn)", ["mlflow", "mlflow.sklearn", "mlflow.models"]),
    ("skops.io", ["skops.io"]),
    ("dvc.repo", ["dvc.repo"]),
    ("mlcycle.stages.modelling", ["mlcycle.stages.modelling"]),
]
AIRFLOW_IMPORTS = [*PRODUCT_IMPORTS, ("airflow.sdk", ["airflow.sdk"]),
                   ("airflow execution API (dag.test runs it in-process)", ["airflow.api_fastapi.execution_api.app"])]

# The product's work, part by part: (module, function, part). Time goes to the outermost wrapped call.
PARTS = [
    ("training", "build_snapshot", "snapshot: read the window's partitions"),
    ("storage", "parquet_bytes", "snapshot: md5 + write to the lake"),
    ("storage", "write_partition", "snapshot: md5 + write to the lake"),
    ("versioning", "version_file", "snapshot: DVC init + add + push"),
    ("storage", "read_manifest", "GX results of the window's days (manifests)"),
    ("training", "train", "fit: search + refit + holdout metrics"),
    ("tracking", "git_commit", "git commit of the code"),
    ("tracking", "log_training_run", "MLflow: run, child runs, log_model, register challenger"),
    ("registry", "register_candidate", "MLflow: run, child runs, log_model, register challenger"),
    ("registry", "version_info", "MLflow: version and alias look-ups"),
    ("registry", "alias_version", "MLflow: version and alias look-ups"),
    ("storage", "read_partition", "read the snapshot back"),
    ("registry", "load_model", "MLflow: load the model (download + skops)"),
    ("training", "predict", "predict the holdout"),
    ("gating", "evaluate", "Evidently gate report"),
    ("registry", "record_gate", "MLflow: upload report + gate tags"),
    ("registry", "promote", "MLflow: promote (aliases, lock, history run)"),
    ("registry", "reject", "MLflow: reject (tags, history run)"),
]
STEPS = ["train_model", "evaluate_model", "register_model"]

# MLflow calls by category; a call made inside another timed MLflow call counts to the outer one.
LOG_MODEL = "mlflow.sklearn.log_model"
MLFLOW_FLUENT = [
    ("mlflow.sklearn", "log_model", LOG_MODEL),
    ("mlflow.models", "infer_signature", "infer_signature (predicts 5 rows)"),
    ("mlflow", "log_text", "artifact uploads (log_text, log_artifact)"),
    ("mlflow", "register_model", "register_model + aliases + registered model"),
    ("mlflow", "set_experiment", "runs: set_experiment, start_run, end_run"),
    ("mlflow", "start_run", "runs: set_experiment, start_run, end_run"),
    ("mlflow.tracking.fluent", "end_run", "runs: set_experiment, start_run, end_run"),
    ("mlflow.sklearn", "load_model", "load_model (download + skops load)"),
]
MLFLOW_CLIENT = {
    "log_batch": "log_batch (params, metrics)",
    "log_artifact": "artifact uploads (log_text, log_artifact)",
    "log_artifacts": "artifact uploads (log_text, log_artifact)",
    "log_text": "artifact uploads (log_text, log_artifact)",
    "create_registered_model": "register_model + aliases + registered model",
    "get_registered_model": "register_model + aliases + registered model",
    "set_registered_model_alias": "register_model + aliases + registered model",
    "delete_registered_model_alias": "register_model + aliases + registered model",
    "get_model_version_by_alias": "model version look-ups and tags",
    "get_model_version": "model version look-ups and tags",
    "set_model_version_tag": "model version look-ups and tags",
}
MLFLOW_OTHER = "other client calls (get_run, ...)"
SKOPS_SCAN = "(mlcycle) skops trusted-type scan before log_model"
# Inside mlflow.sklearn.log_model (MLflow internals: a part that is missing in another version is skipped).
LOG_MODEL_PARTS = [
    ("mlflow.sklearn", "save_model", "save locally: skops dump, MLmodel, requirements, example"),
    ("mlflow.models.utils", "_validate_serving_input", "validate the input example (reload model + predict)"),
    ("mlflow.models.model", "_create_logged_model", "create the logged model + link it to the run"),
    ("MlflowClient", "log_outputs", "create the logged model + link it to the run"),
    ("MlflowClient", "log_model_artifacts", "upload the model files to the server"),
]
SAVE_MODEL = LOG_MODEL_PARTS[0][2]
# inside save_model: MLflow checks the pip requirements against the environment, once per process
REQUIREMENTS_CHECK = ("mlflow.utils.environment", "warn_dependency_requirement_mismatches",
                      "  of which: requirements check (reads every installed package's metadata)")
LOG_MODEL_REPEAT = 4  # log_model calls in one process by the cold/warm measurement


SHARED = {  # the computation both paths do: product part -> baseline phase
    ("train_model", "snapshot: read the window's partitions"): "snapshot",
    ("train_model", "fit: search + refit + holdout metrics"): "train",
    ("evaluate_model", "predict the holdout"): "score",
    ("evaluate_model", "Evidently gate report"): "gate",
}
