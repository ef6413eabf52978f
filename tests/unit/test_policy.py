"""The run policy (mlcycle.stages.policy): why a training runs, whether it goes on, which versions and days."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mlcycle.core import tracking
from mlcycle.stages import policy


def test_the_cause_of_a_run_comes_from_its_type_and_events():
    assert policy.training_cause([], "scheduled")["type"] == "schedule"
    assert policy.training_cause([], "backfill")["type"] == "schedule"
    assert policy.training_cause([], "manual", "new features") == {"type": "manual", "reason": "new features"}
    events = [{"asset": "drift.flights", "ds": "2013-07-01", "source": "monitor"}]
    assert policy.training_cause(events, "asset_triggered") == {"type": "asset", "events": events}


def test_the_operator_hands_the_policy_the_events_and_the_run_type():
    from types import SimpleNamespace

    from airflow.utils.types import DagRunType

    from mlcycle.orchestration.operators.base import trigger_extras

    drift = SimpleNamespace(asset="drift.flights", extra={"ds": "2013-07-01", "source": "monitor"})
    context = {"triggering_asset_events": {"drift.flights": [drift]}}
    assert trigger_extras(context) == [{"asset": "drift.flights", "ds": "2013-07-01", "source": "monitor"}]
    assert str(DagRunType.SCHEDULED.value) == "scheduled"  # what TrainOperator passes as the run type


def test_a_long_cause_still_fits_an_mlflow_tag_as_valid_json():
    events = [{"asset": "drift.flights", "source": "external", "reason": "x" * 300} for _ in range(40)]
    tag = json.loads(tracking.cause_tag({"type": "asset", "events": events}))
    assert tag["type"] == "asset"
    assert 0 < len(tag["events"]) < 40
    assert tag["more_events"] == 40 - len(tag["events"])
    assert json.loads(tracking.cause_tag({"type": "manual", "reason": "r"})) == {"type": "manual", "reason": "r"}


@pytest.fixture
def alerts(monkeypatch) -> list[tuple]:
    """The alerts the policy records (stand-in for the MLflow call)."""
    recorded: list[tuple] = []
    monkeypatch.setattr(tracking, "record_alert", lambda *args: recorded.append(args))
    return recorded


def test_an_alert_inside_the_cooldown_is_recorded_and_skipped(flights_config, monkeypatch, alerts):
    asset = {"type": "asset", "events": [{"source": "external"}]}
    minutes_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    monkeypatch.setattr(policy.registry, "last_alert_training", lambda name: minutes_ago)
    decision = policy.before_training(flights_config, asset)
    assert decision.action == "skip"
    assert "cooldown" in decision.reason
    assert "train_flights" in decision.reason
    assert alerts == [("flights", "skipped", asset, decision.reason)]
    assert policy.before_training(flights_config, {"type": "manual", "reason": ""}) == policy.RUN
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=flights_config.monitoring.cooldown_minutes + 1)
    monkeypatch.setattr(policy.registry, "last_alert_training", lambda name: long_ago)
    assert policy.before_training(flights_config, asset) == policy.RUN


def test_too_little_data_fails_a_person_and_skips_an_alert_or_a_schedule(flights_config, alerts):
    error = ValueError("only 1 validated day(s)")
    manual = policy.too_little_data(flights_config, {"type": "manual"}, error)
    assert (manual.action, manual.reason) == ("fail", "only 1 validated day(s)")
    scheduled = policy.too_little_data(flights_config, {"type": "schedule"}, error)
    assert scheduled.action == "skip"
    assert alerts == []
    alert = policy.too_little_data(flights_config, {"type": "asset", "events": []}, error)
    assert alert.action == "skip"
    assert "the next alert retrains" in alert.reason
    assert [a[1] for a in alerts] == ["deferred"]


def test_versions_come_from_the_param_else_from_the_events():
    assert policy.versions_to_handle("3", [{"version": 9}]) == [3]
    assert policy.versions_to_handle("", [{"version": 4}, {"versions": [2, 4]}, {"ds": "x"}]) == [2, 4]
    assert policy.versions_to_handle("None", []) == []


def test_days_to_handle_without_a_champion_is_empty_with_the_reason(flights_config, monkeypatch):
    monkeypatch.setattr(policy.registry, "champion", lambda name: None)
    work = policy.days_to_handle(flights_config, "score", None, {"2013-01-02"})
    assert work.days == []
    assert "no champion yet" in work.reason
    assert policy.days_to_handle(flights_config, "monitor", "2013-01-05", set()).days == ["2013-01-05"]


def test_a_repeated_alert_id_counts_once_in_a_cause():
    events = [{"alert_id": "a", "source": "external"}, {"alert_id": "a", "source": "external"},
              {"alert_id": "b"}, {"source": "monitor"}, {"source": "monitor"}]
    cause = policy.training_cause(events, "asset_triggered")
    assert [e.get("alert_id") for e in cause["events"]] == ["a", "b", None, None]
    assert cause["repeats"] == 1
    assert tracking.alert_ids_tag(cause) == {"alert_ids": "a,b"}


def test_a_run_of_alerts_already_counted_is_skipped_and_not_recorded_again(flights_config, monkeypatch, alerts):
    monkeypatch.setattr(policy.registry, "trained_alert_ids", lambda name: {"a"})
    monkeypatch.setattr(policy.tracking, "recorded_alert_ids", lambda name: {"b"})
    monkeypatch.setattr(policy.registry, "last_alert_training", lambda name: None)
    both = {"type": "asset", "events": [{"alert_id": "a"}, {"alert_id": "b"}]}
    repeated = policy.before_training(flights_config, both)
    assert repeated.action == "skip"
    assert "a, b already counted" in repeated.reason
    assert alerts == []
    fresh = {"type": "asset", "events": [{"alert_id": "a"}, {"alert_id": "c"}]}
    assert policy.before_training(flights_config, fresh) == policy.RUN
    assert policy.before_training(flights_config, {"type": "asset", "events": [{"alert_id": "a"}, {}]}) == policy.RUN
