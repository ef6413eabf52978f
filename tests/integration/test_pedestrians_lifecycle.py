"""The regression pipeline ``pedestrians`` end to end: the DAGs the factory builds from
``include/pipelines/pedestrians.yaml`` (the shipped config, unchanged) with ``dag.test()``, real DVC, GX,
Evidently and a real MLflow server.

Ten days of August 2021 are ingested and validated (a week to train on, the 15th-17th held out), the
model is trained, gated by Evidently's regression report and promoted; then the 18th, the first day of
Auckland's Delta lockdown, goes through ingest, validate, score and monitor: the counts collapse, the
champion's MAE quadruples and monitoring raises ``drift.pedestrians``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from conftest import SESSION_LAKE, local_state

pytestmark = pytest.mark.integration

PIPELINE = "pedestrians"
DAYS = [f"2021-08-{d:02d}" for d in range(8, 18)]  # Sunday 8th .. Tuesday 17th
LOCKDOWN = "2021-08-18"


@pytest.fixture(scope="module")
def testbed(request, tmp_path_factory, mlflow_process, airflow_db) -> Iterator[SimpleNamespace]:
    """Ten days landed, ingested and validated with the plain steps; the lockdown day only landed."""
    from mlcycle import settings
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import akl_pedestrians
    from mlcycle.stages import ingestion

    root = tmp_path_factory.mktemp("pedestrians")
    with pytest.MonkeyPatch.context() as patch:
        local_state(patch, root / "state")
        for name in ("MLCYCLE_PIPELINES_DIR", "MLCYCLE_GX_DIR"):
            patch.delenv(name, raising=False)
        patch.setenv("MLCYCLE_LAKE_URI", SESSION_LAKE)
        config = load_pipeline(PIPELINE)
        for ds in [*DAYS, LOCKDOWN]:
            akl_pedestrians.land_day(ds, settings.landing_uri(), config.landing_path(ds))
        for ds in DAYS:
            ingestion.ingest_day(config, ds)
            ingestion.validate_day(config, ds)
        yield SimpleNamespace(config=config, mlflow=request.getfixturevalue("mlflow_server"))


def _dag(stage: str):
    """A fresh DAG of one stage: ``dag.test()`` renders templates onto its tasks, so never run one twice."""
    from mlcycle.core.config import load_pipeline
    from mlcycle.orchestration import factory

    return getattr(factory, f"{stage}_dag")(load_pipeline(PIPELINE))


def _run(stage: str, logical_date: dt.datetime | None = None, **conf: Any) -> SimpleNamespace:
    run = _dag(stage).test(run_conf=conf, **({"logical_date": logical_date} if logical_date else {}))
    tis = run.get_task_instances()
    states = {ti.task_id: ti.state for ti in tis}
    assert run.state == "success", f"{stage}_{PIPELINE}: {states}"
    return SimpleNamespace(states=states, values={ti.task_id: ti.xcom_pull(task_ids=ti.task_id,
                                                                             map_indexes=ti.map_index)
                                                  for ti in tis if ti.state == "success"})


@pytest.fixture(scope="module")
def champion(testbed) -> SimpleNamespace:
    """train -> evaluate -> register through the DAGs: the first version becomes champion."""
    trained = _run("train", window_end=DAYS[-1], reason="first model").values["train"]
    evaluated = _run("evaluate", version=trained["version"]).values["evaluate"][-1]
    registered = _run("register", version=trained["version"]).values["register"][-1]
    return SimpleNamespace(trained=trained, evaluated=evaluated, registered=registered)


def test_the_first_model_passes_the_regression_gate_and_becomes_champion(testbed, champion):
    from mlcycle.core import registry

    trained = champion.trained
    assert trained["train_rows"] > 3000
    assert trained["holdout_rows"] > 1300
    assert trained["holdout_metrics"]["r2"] >= testbed.config.evaluation.thresholds["r2"]
    assert trained["holdout_metrics"]["rmse"] <= testbed.config.evaluation.thresholds["rmse"]
    assert champion.evaluated["passed"], champion.evaluated["reasons"]
    assert champion.evaluated["champion"] is None, "no champion yet: absolute thresholds only"
    assert {t["id"] for t in champion.evaluated["tests"]} == {"r2.absolute", "rmse.absolute"}
    assert champion.registered["champion"] == trained["version"]
    assert registry.alias_version(PIPELINE, registry.CHAMPION) == trained["version"]
    tags = registry.version_info(PIPELINE, trained["version"])["tags"]
    assert tags["gate"] == "passed"
    assert tags["data.window"] == f"{DAYS[0]}..{DAYS[-1]}"


def test_the_champion_carries_evidentlys_regression_report_in_mlflow(testbed, champion):
    from mlcycle.core import registry

    run_id = champion.trained["run_id"]
    artifacts = {a.path for a in registry.client().list_artifacts(run_id, "evaluation")}
    assert {"evaluation/gate_report.html", "evaluation/gate_report.json"} <= artifacts
    local = registry.client().download_artifacts(run_id, "evaluation/gate_report.json")
    with open(local, encoding="utf-8") as handle:
        report = json.load(handle)
    metric_types = {m["config"]["type"].rsplit(":", 1)[-1].rsplit(".", 1)[-1] for m in report["evidently"]["metrics"]}
    assert {"MAE", "RMSE", "R2Score"} <= metric_types, metric_types
    assert report["verdict"]["passed"]


def test_a_lockdown_day_is_ingested_validated_scored_and_raises_drift(testbed, champion):
    from mlcycle.core import storage

    ingest = _run("ingest", logical_date=dt.datetime.fromisoformat(LOCKDOWN).replace(tzinfo=dt.UTC))
    assert ingest.values["ingest"]["rows"] == 456  # 19 counters in 2021, 24 hours each
    assert _run("validate", ds=LOCKDOWN).states["validate"] == "success"

    scored = _run("score", ds=LOCKDOWN).values["score"]
    predictions = storage.read_partition(scored["uri"])
    assert len(predictions) == scored["rows"] == 456
    assert set(predictions["model_version"]) == {champion.trained["version"]}
    assert "probability" not in predictions, "a regression model has no class probability"

    monitored = _run("monitor", ds=LOCKDOWN)
    check = monitored.values["monitor"]
    assert check["drift"], check
    assert check["drifted_columns"] == [], "the counters and hours are the usual ones: only the counts collapsed"
    assert check["quality_drop"] > testbed.config.monitoring.quality_drop, check["quality"]
    assert check["quality"]["mae"] > 3 * champion.trained["holdout_metrics"]["mae"]
    alert = monitored.values["raise_drift"]
    assert alert["ds"] == LOCKDOWN
    assert "mae" in alert["reasons"][0]


def test_an_ordinary_day_does_not_drift(testbed, champion):
    monitored = _run("monitor", ds=DAYS[-1])
    assert not monitored.values["monitor"]["drift"], monitored.values["monitor"]["reasons"]
    assert monitored.states["raise_drift"] == "skipped"


def test_the_hand_written_refresh_dag_trains_gates_and_promotes_in_one_run(testbed, champion):
    """``dags/refresh_pedestrians.py``: the same operators chained by hand; the same estimator on the same
    window gives the same metrics, so the new version is no worse than the champion and is promoted."""
    import runpy

    from mlcycle import settings
    from mlcycle.core import registry

    dag = runpy.run_path(str(settings.REPO_ROOT / "dags" / "refresh_pedestrians.py"))["dag"]
    assert [t.outlets for t in dag.tasks if t.task_id in ("train", "evaluate")] == [[], []]
    run = dag.test(run_conf={"window_end": DAYS[-1], "reason": "hand-written refresh"})
    values = {ti.task_id: ti.xcom_pull(task_ids=ti.task_id) for ti in run.get_task_instances()}
    assert run.state == "success", values
    version = values["train"]["version"]
    assert values["train"]["holdout_metrics"] == champion.trained["holdout_metrics"]
    assert values["evaluate"][-1]["champion"] == champion.trained["version"], "gated against the champion"
    assert values["evaluate"][-1]["passed"], values["evaluate"][-1]["reasons"]
    assert registry.alias_version(PIPELINE, registry.CHAMPION) == version
    assert registry.alias_version(PIPELINE, registry.PREVIOUS) == champion.trained["version"]
