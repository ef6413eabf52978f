"""The pipeline operators: their templated fields, the one rule for outlets, and their Asset events.

As the Airflow providers do, each operator's ``template_fields`` are pinned here, and each is an
attribute the constructor sets (a templated field that is not an attribute fails only at run time).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlcycle.orchestration import operators as ops
from mlcycle.orchestration.assets import pipeline_asset

P = {"pipeline": "flights"}
CASES = [
    (ops.IngestDatesOperator, {}, ("ds", "from_date", "to_date", "chunk_days")),
    (ops.IngestOperator, P, ("ds", "landing_uri")),
    (ops.LandingFileSensor, {"uri": "file:///x/{{ ds }}.csv"}, ("uri",)),
    (ops.ResolvePartitionsOperator, P, ("ds",)),
    (ops.ValidateOperator, {**P, "ds": "2013-01-02"}, ("ds", "accept_volume")),
    (ops.TrainOperator, P, ("window_end", "window_days", "estimator")),
    (ops.EvaluateOperator, P, ("version",)),
    (ops.RegisterOperator, P, ("version",)),
    (ops.RollbackOperator, P, ("version", "reason")),
    (ops.ScoreOperator, {**P, "ds": "2013-01-02"}, ("ds",)),
    (ops.MonitorOperator, {**P, "ds": "2013-01-02"}, ("ds", "drift_share", "quality_drop")),
    (ops.DriftAlertOperator, {**P, "results": []}, ("results",)),
    (ops.AuditOperator, P, ()),
]


@pytest.mark.parametrize(("cls", "kwargs", "fields"), CASES, ids=[c[0].__name__ for c in CASES])
def test_template_fields(cls, kwargs, fields):
    operator = cls(task_id="t", **kwargs)
    assert tuple(operator.template_fields) == fields
    for name in fields:
        assert hasattr(operator, name), f"{cls.__name__}.{name} is templated but never set"


EMITTERS = [(ops.IngestOperator, "raw"), (ops.ValidateOperator, "validated"), (ops.TrainOperator, "candidate"),
            (ops.EvaluateOperator, "evaluated"), (ops.DriftAlertOperator, "drift")]


@pytest.mark.parametrize(("cls", "kind"), EMITTERS, ids=[c[0].__name__ for c in EMITTERS])
def test_an_operator_declares_its_asset_unless_told_otherwise(cls, kind):
    kwargs = dict(next(k for c, k, _ in CASES if c is cls))
    asset = pipeline_asset(kind, "flights")
    assert [o.name for o in cls(task_id="t", **kwargs).outlets] == [asset.name]
    assert cls(task_id="t", outlets=[], **kwargs).outlets == []
    other = pipeline_asset("raw", "pedestrians")
    assert [o.name for o in cls(task_id="t", outlets=[other], **kwargs).outlets] == [other.name]


def _recorded_events() -> tuple[dict, dict]:
    """``context["outlet_events"]`` as the task runner gives it, and what was emitted through it, by Asset name."""
    events: dict = {}

    class Events(dict):
        def __missing__(self, key):
            events[key.name] = SimpleNamespace(extra=None)
            return events[key.name]

    return events, Events()


def test_the_event_extra_goes_only_to_a_declared_outlet():
    events, outlet_events = _recorded_events()
    context = {"outlet_events": outlet_events}
    ops.IngestOperator(task_id="t", pipeline="flights").emit(context, {"ds": "2013-01-02"})
    assert events["raw.flights"].extra == {"ds": "2013-01-02"}
    events.clear()
    ops.IngestOperator(task_id="t", pipeline="flights", outlets=[]).emit(context, {"ds": "2013-01-02"})
    assert events == {}


def test_empty_params_become_none_and_values_are_cast():
    optional = ops.IngestOperator.optional
    assert [optional(v) for v in (None, "", "None")] == [None, None, None]
    assert optional("7", int) == 7
    assert optional("0.25", float) == 0.25
    assert optional("2013-01-02") == "2013-01-02"


def test_bad_data_fails_at_once_and_a_decision_skips_or_fails():
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from mlcycle.errors import DataError
    from mlcycle.stages.policy import RUN, Decision

    class Broken(ops.ScoreOperator):
        def run(self, context):
            raise DataError("the file is bad; re-send it")

    with pytest.raises(AirflowFailException, match="DataError: the file is bad"):
        Broken(task_id="t", pipeline="flights", ds="2013-01-02").execute({})
    ops.ScoreOperator.apply(RUN)
    with pytest.raises(AirflowSkipException, match="cooldown"):
        ops.ScoreOperator.apply(Decision("skip", "inside the cooldown"))
    with pytest.raises(AirflowFailException, match="too few"):
        ops.ScoreOperator.apply(Decision("fail", "too few days"))


def test_rollback_moves_the_champion_of_the_model_not_of_the_pipeline(monkeypatch):
    """The pipeline and its registered model may have different names: rollback uses the model's."""
    from mlcycle.core import registry
    from mlcycle.core.config import PipelineConfig

    monkeypatch.setattr(PipelineConfig, "model_name", property(lambda self: f"{self.name}-model"))
    calls, linked = [], []
    monkeypatch.setattr(registry, "rollback", lambda *args: calls.append(args) or {"to_version": "2"})
    operator = ops.RollbackOperator(task_id="t", pipeline="flights", version="2", reason="bad release")
    monkeypatch.setattr(operator, "persist_links", lambda context, version: linked.append(version))
    assert operator.run({"run_id": "run-1"}) == {"to_version": "2"}
    assert calls == [("flights-model", 2, "bad release", "run-1")]
    assert linked == [2]


def test_a_day_after_the_end_date_is_refused_with_the_fix():
    from airflow.sdk.exceptions import AirflowFailException

    dates = ops.IngestDatesOperator(task_id="dates", ds="2014-01-02", from_date="", to_date="", chunk_days="",
                                    last_day="2013-12-31", config_file="include/pipelines/flights.yaml")
    with pytest.raises(AirflowFailException, match=r"2014-01-02 is after schedule.end_date 2013-12-31, where this "
                                                   r"pipeline stops. To ingest later days, set schedule.end_date in "
                                                   r"include/pipelines/flights.yaml"):
        dates.execute({})
    dates.from_date, dates.to_date = "2013-12-30", "2014-01-01"
    with pytest.raises(AirflowFailException, match=r"2014-01-01 is after"):
        dates.execute({})
    dates.to_date = "2013-12-31"
    assert dates.execute({}) == [["2013-12-30"], ["2013-12-31"]]


def test_a_range_is_mapped_in_chunks_of_days_and_a_daily_run_is_one_day():
    from airflow.sdk.exceptions import AirflowFailException

    dates = ops.IngestDatesOperator(task_id="dates", ds="2013-01-09", from_date="2013-01-01", to_date="2013-01-05",
                                    chunk_days="", default_chunk_days=2)
    assert dates.execute({}) == [["2013-01-01", "2013-01-02"], ["2013-01-03", "2013-01-04"], ["2013-01-05"]]
    dates.chunk_days = "3"  # the Param of the trigger form wins over the config's default
    assert dates.execute({}) == [["2013-01-01", "2013-01-02", "2013-01-03"], ["2013-01-04", "2013-01-05"]]
    dates.from_date = dates.to_date = ""
    assert dates.execute({}) == [["2013-01-09"]]
    dates.chunk_days = "0"
    with pytest.raises(AirflowFailException, match="chunk_days: chunk size 0: give a number of days per task"):
        dates.execute({})


def test_a_chunk_emits_one_event_with_its_days_and_a_day_keeps_its_own():
    from mlcycle.orchestration.operators.base import as_days, chunk_size, event_days
    from mlcycle.stages.ingestion import Chunk

    events, outlet_events = _recorded_events()
    operator = ops.IngestOperator(task_id="t", pipeline="flights")
    one = {"ds": "2013-01-02", "rows": 3}
    assert operator.publish({"outlet_events": outlet_events}, Chunk(done=[one])) == one
    assert events["raw.flights"].extra == one
    two = [one, {"ds": "2013-01-03", "rows": 4}]
    extra = operator.publish({"outlet_events": outlet_events}, Chunk(done=two))
    assert extra == events["raw.flights"].extra == {"days": ["2013-01-02", "2013-01-03"], "partitions": two}
    assert event_days([one, extra, {"source": "x"}]) == {"2013-01-02", "2013-01-03"}
    assert (chunk_size([one], 7), chunk_size([one, extra], 7), chunk_size([], 7)) == (1, 2, 7)
    assert as_days("2013-01-02") == ["2013-01-02"]
    assert as_days(("2013-01-02", "2013-01-03")) == ["2013-01-02", "2013-01-03"]


def test_a_bounded_schedule_is_events_so_a_later_run_still_has_tasks():
    """With the DAG's end_date, Airflow would give a run after it no task (a silent success)."""
    from mlcycle.core.config import load_pipeline
    from mlcycle.orchestration import factory

    dag = factory.ingest_dag(load_pipeline("flights"))
    assert dag.end_date is None
    events = dag.timetable.event_dates
    assert (str(events[0].date()), str(events[-1].date()), len(events)) == ("2013-01-01", "2013-12-31", 365)
    assert all(task.end_date is None for task in dag.tasks)


def test_a_task_masks_the_mlflow_password_in_its_log(monkeypatch):
    """MLflow clients read the service account's password from the environment; every task masks it."""
    import secrets

    from airflow.sdk.log import redact

    password = f"service-{secrets.token_hex(8)}"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)

    class Quiet(ops.AuditOperator):
        def run(self, context):
            return None

    assert redact(f"with password {password}") == f"with password {password}"
    Quiet(task_id="t", pipeline="flights").execute({})
    assert redact(f"with password {password}") == "with password ***"


def test_the_trigger_forms_estimator_choice_reads_config_default(flights_config):
    """The first choice of the estimator (null: the config's) is labelled, not shown as ``null``."""
    from mlcycle.orchestration.factory import training_params

    schema = training_params(flights_config)["estimator"].schema
    assert schema["enum"][0] is None
    assert schema["values_display"] == {"null": f"config default ({flights_config.training.estimator})"}
    assert schema["enum"][1:] == flights_config.training.estimators
