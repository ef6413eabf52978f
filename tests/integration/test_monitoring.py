"""score -> monitor -> drift alert with ``dag.test()``, real DVC, GX, Evidently and a real MLflow server.

Pipeline ``flights_mon``: the flights contract and monitoring thresholds, a five-day January window
(holdout: two days) and two July days. The champion is trained on January; July is a new season,
so the monitor must find drift there and none on a January day.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from conftest import local_state

pytestmark = pytest.mark.integration

PIPELINE = "flights_mon"
JANUARY = ["2013-01-09", "2013-01-10", "2013-01-11", "2013-01-12", "2013-01-13"]
JULY = ["2013-07-01", "2013-07-02"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def testbed(request, tmp_path_factory, mlflow_process, airflow_db) -> Iterator[SimpleNamespace]:
    """January and July days landed, ingested and validated; no model yet."""
    from mlcycle import settings
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import nycflights
    from mlcycle.stages import ingestion

    root = tmp_path_factory.mktemp("monitoring")
    pipelines = root / "pipelines"
    pipelines.mkdir()
    raw = yaml.safe_load((REPO / "include" / "pipelines" / "flights.yaml").read_text())
    raw["name"] = PIPELINE
    raw["training"].update(window_days=5, holdout_days=2, search={"C": [1.0]})
    (pipelines / f"{PIPELINE}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        local_state(patch, root / "state", pipelines)
        config = load_pipeline(PIPELINE)
        for ds in JANUARY + JULY:
            nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
            ingestion.ingest_day(config, ds)
            ingestion.validate_day(config, ds)
        mlflow = request.getfixturevalue("mlflow_server")
        yield SimpleNamespace(config=config, state=root / "state", mlflow=mlflow)


def _dag(stage: str):
    from mlcycle.core.config import load_pipeline
    from mlcycle.orchestration import factory

    return getattr(factory, f"{stage}_dag")(load_pipeline(PIPELINE))


def _run(stage: str, **conf: Any) -> SimpleNamespace:
    """One fresh DAG run; its task states by task id and map index, and return values."""
    run = _dag(stage).test(run_conf=conf)
    tis = run.get_task_instances()
    return SimpleNamespace(run=run, states={(ti.task_id, ti.map_index): ti.state for ti in tis},
                           values={(ti.task_id, ti.map_index): ti.xcom_pull(task_ids=ti.task_id,
                                                                            map_indexes=ti.map_index)
                                   for ti in tis if ti.state == "success"},
                           links={(ti.task_id, key): ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index,
                                                                  key=key)
                                  for ti in tis for key in ("_link_DriftReportLink", "_link_MlflowRunLink")})


@pytest.fixture(scope="module")
def before_champion(testbed) -> dict[str, SimpleNamespace]:
    """Runs before any model exists: by hand for one day, and as the Asset would start them (no date)."""
    return {"score": _run("score", ds=JULY[0]), "monitor": _run("monitor", ds=JULY[0]),
            "monitor_scheduled": _run("monitor")}


@pytest.fixture(scope="module")
def champion(testbed, before_champion) -> dict[str, Any]:
    """v1, trained on the January window and promoted by the gate (plain domain calls)."""
    from mlcycle.stages import modelling

    trained = modelling.train_model(testbed.config, JANUARY[-1], cause={"type": "manual", "reason": "test"})
    assert modelling.evaluate_model(testbed.config, trained["version"])["passed"]
    modelling.register_model(testbed.config, trained["version"])
    return trained


def test_without_champion_score_and_monitor_skip_with_a_reason(before_champion):
    assert before_champion["score"].states[("score", 0)] == "skipped"
    assert before_champion["monitor"].states[("monitor", 0)] == "skipped"
    assert before_champion["monitor"].states[("raise_drift", -1)] == "skipped"
    scheduled = before_champion["monitor_scheduled"]
    assert scheduled.values[("partitions", -1)] == [], "no champion: nothing to monitor, no mapped task"
    assert scheduled.states[("raise_drift", -1)] == "skipped"


def test_score_writes_predictions_with_the_champion_version_and_replaces_on_rerun(testbed, champion):
    from mlcycle.core import lake, storage

    first = _run("score", ds=JULY[0])
    assert first.states[("score", 0)] == "success"
    uri = lake.partition("predictions", PIPELINE, JULY[0])
    predictions = storage.read_partition(uri)
    validated = storage.read_partition(lake.partition("validated", PIPELINE, JULY[0]))
    assert len(predictions) == len(validated) == first.values[("score", 0)]["rows"]
    assert set(predictions["model_version"]) == {champion["version"]}
    assert predictions["probability"].between(0, 1).all()
    assert set(predictions["prediction"]) <= {0, 1}

    second = _run("score", ds=JULY[0])
    assert second.values[("score", 0)]["md5"] == first.values[("score", 0)]["md5"]
    assert storage.list_partitions("predictions", PIPELINE) == [JULY[0]]
    assert len(storage.read_partition(uri)) == len(validated)


def test_a_july_day_drifts_from_the_january_champion_and_raises_the_drift_asset(testbed, champion):
    from mlcycle.core import lake, registry, storage

    run = _run("monitor", ds=JULY[0])
    check = run.values[("monitor", 0)]
    assert check["drift"], check["reasons"]
    assert {"temp", "dewp"} <= set(check["drifted_columns"])
    assert check["share"] >= testbed.config.monitoring.drift_share
    assert check["champion"] == champion["version"]
    assert set(check["quality"]) >= {"roc_auc", "accuracy"}, "flights carry labels: quality is measured"
    assert check["quality_drop"] is not None
    assert check["prediction_drift"] is not None

    alert = run.values[("raise_drift", -1)]
    assert alert["ds"] == JULY[0]
    assert alert["drifted_columns"] == check["drifted_columns"]
    assert alert["report_uri"] == check["report_uri"]
    assert alert["partition"] == lake.partition("validated", PIPELINE, JULY[0])

    manifest = storage.read_manifest(check["report_uri"].rsplit("/", 1)[0])
    assert manifest["champion"] == champion["version"]
    assert manifest["reference_md5"] == champion["snapshot_md5"]
    assert b"<html" in storage.read_bytes(check["report_uri"])[:2000].lower()

    mlflow_run = registry.client().get_run(check["run_id"])
    assert mlflow_run.data.tags["ds"] == JULY[0]
    assert mlflow_run.data.metrics["drift"] == 1.0
    assert mlflow_run.data.metrics["drift_share"] == pytest.approx(check["share"])
    assert "quality_roc_auc" in mlflow_run.data.metrics
    artifacts = {a.path for a in registry.client().list_artifacts(check["run_id"], "monitoring")}
    assert "monitoring/drift_report.html" in artifacts
    assert run.links[("monitor", "_link_DriftReportLink")] == (  # the report in Airflow (the test sets no base_url)
        f"/plugin/mlcycle-reports/mlcycle/reports/{PIPELINE}/drift/{JULY[0]}")
    assert run.links[("monitor", "_link_MlflowRunLink")] == (
        f"{testbed.mlflow}/#/experiments/{check['experiment_id']}/runs/{check['run_id']}")


def test_a_january_day_does_not_drift_and_raises_nothing(testbed, champion):
    run = _run("monitor", ds=JANUARY[-1])
    assert not run.values[("monitor", 0)]["drift"]
    assert run.values[("monitor", 0)]["drifted_columns"] == []
    assert run.states[("raise_drift", -1)] == "skipped"


def test_a_threshold_param_overrides_the_config(testbed, champion):
    run = _run("monitor", ds=JULY[1], drift_share=1.0)
    assert not run.values[("monitor", 0)]["drift"]
    assert run.states[("raise_drift", -1)] == "skipped"


def test_rechecking_a_day_replaces_its_monitoring_run(testbed, champion):
    from mlcycle.core import registry

    _run("monitor", ds=JULY[1])
    experiment = registry.client().get_experiment_by_name(f"{PIPELINE}-monitoring")
    runs = registry.client().search_runs([experiment.experiment_id], f"tags.ds = '{JULY[1]}'")
    assert len(runs) == 1


def test_the_reference_comes_back_from_the_dvc_remote(testbed, champion):
    """Delete the lake's snapshot and the DVC workspace copy: monitoring pulls it from the remote."""
    from mlcycle import settings
    from mlcycle.core import lake, storage
    from mlcycle.stages import scoring

    tags = {"data.md5": champion["snapshot_md5"]}
    snapshot = Path(storage.local_path(champion["snapshot_uri"])) / lake.DATA_FILE
    workspace = settings.dvc_repo_dir() / "training" / PIPELINE / f"md5={tags['data.md5']}" / lake.DATA_FILE
    snapshot.unlink()
    workspace.unlink()
    check = scoring.monitor_day(testbed.config, JULY[1])
    assert check["drift"]
    assert workspace.exists()


def test_pending_days_are_the_new_days_not_yet_handled(testbed, champion):
    from mlcycle.stages import scoring

    _run("score", ds=JULY[1])
    assert scoring.pending_days(testbed.config, "predictions") == []
    assert scoring.pending_days(testbed.config, "monitoring") == []
    assert all(d > JANUARY[-1] for d in JULY)


def test_an_alert_inside_the_cooldown_is_recorded_and_skipped(testbed, champion):
    from mlcycle.core import registry
    from mlcycle.stages import modelling, policy

    cause = {"type": "asset", "events": [{"asset": "drift", "ds": JULY[0]}]}
    assert policy.before_training(testbed.config, cause) == policy.RUN  # no drift-triggered training yet
    modelling.train_model(testbed.config, JANUARY[-1], cause=cause)
    decision = policy.before_training(testbed.config, cause)
    assert decision.action == "skip"
    assert "inside the cooldown" in decision.reason
    experiment = registry.client().get_experiment_by_name(f"{PIPELINE}-monitoring")
    (skipped,) = registry.client().search_runs([experiment.experiment_id], "tags.alert = 'skipped'")
    assert JULY[0] in skipped.data.tags["cause"]
