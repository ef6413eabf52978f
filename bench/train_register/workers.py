"""train_register's worker processes: ``python -m bench.train_register.workers <command>`` (internal).

Each path imports its libraries up front, one group after the other (so imports are timed on their
own), then does the work; the timing shims (``shims``) split the product's work into its parts.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench._harness.env import REPO
from bench._harness.timing import Phases, dag_test, import_groups, load_dag_file
from bench._harness.workers import emit, worker_main
from bench.train_register.constants import (
    AIRFLOW_IMPORTS,
    BASE_IMPORTS,
    LOG_MODEL_REPEAT,
    PIPELINE,
    PRODUCT_IMPORTS,
    STEPS,
    WORKERS,
)
from bench.train_register.data import write_lake
from bench.train_register.shims import LogModelTimer, instrument


def _baseline() -> None:
    """A plain script: the same snapshot, fit, scoring and Evidently gate, with neither MLflow nor Airflow."""
    start = time.perf_counter()
    imports = import_groups(BASE_IMPORTS)
    from mlcycle import settings
    from mlcycle.core import gating, storage, training
    from mlcycle.core.config import load_pipeline

    config = load_pipeline(PIPELINE)
    Phases(start).lap("imports")
    began = time.perf_counter()
    phases = Phases(began)
    end = storage.list_partitions("validated", config.name)[-1]
    snapshot = training.build_snapshot(config, end)
    phases.lap("snapshot")
    result = training.train(config, snapshot)
    phases.lap("train")
    holdout = snapshot[snapshot[training.SPLIT_COLUMN] == "holdout"]
    predicted, probability = training.predict(result.model, holdout, config)
    challenger = gating.scored_frame(training.target(holdout, config), predicted, probability)
    phases.lap("score")
    gate = gating.evaluate(config, challenger, None, settings.state_dir() / "reports" / "baseline")
    phases.lap("gate")
    emit("result", imports=imports, imports_total=sum(imports.values()), phases=phases.seconds,
         work=time.perf_counter() - began, holdout_metrics=result.holdout_metrics, train_rows=result.train_rows,
         holdout_rows=result.holdout_rows, passed=gate.passed, reasons=gate.reasons, problems=[])


def _product() -> None:
    """modelling.train_model, evaluate_model and register_model against the MLflow server."""
    start = time.perf_counter()
    imports = import_groups(PRODUCT_IMPORTS)
    from mlcycle.core.config import load_pipeline
    from mlcycle.stages import modelling

    config = load_pipeline(PIPELINE)
    shims = instrument()
    Phases(start).lap("imports")
    began = time.perf_counter()
    for step in STEPS:
        if step == "train_model":
            modelling.train_model(config)
        else:
            getattr(modelling, step)(config, shims.steps.returned["train_model"]["version"])
        emit("phase", name=step, seconds=shims.steps.seconds[step])
    work = time.perf_counter() - began
    emit("result", imports=imports, imports_total=sum(imports.values()), work=work, **shims.figures(),
         **_outcome(shims.steps.returned))


def _outcome(outputs: dict[str, Any]) -> dict[str, Any]:
    trained, evaluated, registered = (outputs.get(s) or {} for s in STEPS)
    problems = [f"{s} did not return" for s in STEPS if not outputs.get(s)]
    if registered and registered.get("action") not in ("promote", "reject"):
        problems.append(f"register_model did {registered.get('action')!r}, not a promotion or a rejection")
    return {"version": trained.get("version"), "holdout_metrics": trained.get("holdout_metrics"),
            "train_rows": trained.get("train_rows"), "holdout_rows": trained.get("holdout_rows"),
            "passed": evaluated.get("passed"), "reasons": evaluated.get("reasons"),
            "action": registered.get("action"), "champion": registered.get("champion"), "problems": problems}


def _dag(step: str):
    stage = step.split("_")[0]  # train_model: the DAG train_<pipeline> of dags/train.py
    return getattr(load_dag_file(REPO / "dags" / f"{stage}.py"), f"{stage}_{PIPELINE}")


def _airflow() -> None:
    """The same through dag.test() of train_, evaluate_ and register_<pipeline>, in this one process."""
    start = time.perf_counter()
    imports = import_groups(AIRFLOW_IMPORTS)
    shims = instrument()
    dags = {step: _dag(step) for step in STEPS}
    Phases(start).lap("imports + DAG files")
    began = time.perf_counter()
    phases = Phases(began)
    states = {}
    for step, dag in dags.items():
        trained = shims.steps.returned.get("train_model") or {}
        conf = None if step == "train_model" else {"version": trained.get("version")}
        states[dag.dag_id] = dag_test(dag, phases, f"{dag.dag_id} dag.test", step, run_conf=conf)
        if states[dag.dag_id] != "success":
            break
    work = time.perf_counter() - began
    # the operators return lists for evaluate and register (one entry per version)
    outcome = _outcome({k: (v[-1] if isinstance(v, list) and v else v) for k, v in shims.steps.returned.items()})
    outcome["problems"] += [f"{dag_id} ended {s}" for dag_id, s in states.items() if s != "success"]
    emit("result", imports=imports, imports_total=sum(imports.values()), work=work, dag_test=phases.seconds,
         **shims.figures(), **outcome, states=states)


def _log_model_repeat() -> None:
    """log_model of the registered version 1, several times in one fresh process: first call vs warm calls."""
    start = time.perf_counter()
    import_groups([group for group in PRODUCT_IMPORTS if group[0] not in ("evidently", "dvc.repo")])
    import mlflow
    from mlflow.models import infer_signature

    from mlcycle.core import lake, registry, storage, tracking, training
    from mlcycle.core.config import load_pipeline

    config = load_pipeline(PIPELINE)
    model = registry.load_model(config.model_name, 1)
    day = storage.list_partitions("validated", config.name)[-1]
    frame = storage.read_partition(lake.partition("validated", config.name, day))
    example = training.prepare(frame.head(5), config)
    inner = LogModelTimer()
    mlflow.set_experiment("bench-log-model")
    Phases(start).lap("imports + load model")
    calls = []
    for i in range(LOG_MODEL_REPEAT):
        with mlflow.start_run(run_name=f"log_model {i + 1}"):
            # the same arguments as tracking.log_training_run
            signature = infer_signature(example, model.predict(example))
            trusted = tracking._own_model_types(model)
            inner.reset()
            mark = time.perf_counter()
            mlflow.sklearn.log_model(model, name="model", signature=signature, input_example=example,
                                     pip_requirements=tracking._pip_requirements(), skops_trusted_types=trusted)
            calls.append({"seconds": time.perf_counter() - mark, "parts": inner.parts()})
        emit("phase", name=f"log_model {i + 1}", seconds=calls[-1]["seconds"])
    emit("result", calls=calls, problems=[])


def main(argv: list[str]) -> None:
    worker_main(WORKERS, {
        "setup": lambda: write_lake(argv[1], argv[2]), "baseline": _baseline, "product": _product,
        "airflow": _airflow, "log_model": _log_model_repeat}, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
