"""Why a training run happened: the schedule, a person (with a reason), or the Asset events that triggered it."""

from __future__ import annotations


def test_the_cause_of_a_run_comes_from_its_type_and_events():
    from types import SimpleNamespace

    from airflow.utils.types import DagRunType

    from mlcycle.orchestration.operators.model import _cause

    def context(run_type, events=None, reason=""):
        return {"dag_run": SimpleNamespace(run_type=run_type), "triggering_asset_events": events or {},
                "params": {"reason": reason}}

    assert _cause(context(DagRunType.SCHEDULED))["type"] == "schedule"
    assert _cause(context(DagRunType.MANUAL, reason="new features")) == {"type": "manual", "reason": "new features"}
    drift = SimpleNamespace(asset="drift.flights", extra={"ds": "2013-07-01", "source": "monitor"})
    cause = _cause(context(DagRunType.ASSET_TRIGGERED, {"drift.flights": [drift]}))
    assert cause == {"type": "asset", "events": [{"asset": "drift.flights", "ds": "2013-07-01", "source": "monitor"}]}


def test_a_long_cause_still_fits_an_mlflow_tag_as_valid_json():
    import json

    from mlcycle.core.registry import cause_tag

    events = [{"asset": "drift.flights", "source": "external", "reason": "x" * 300} for _ in range(40)]
    tag = json.loads(cause_tag({"type": "asset", "events": events}))
    assert tag["type"] == "asset"
    assert 0 < len(tag["events"]) < 40
    assert tag["more_events"] == 40 - len(tag["events"])
    assert json.loads(cause_tag({"type": "manual", "reason": "r"})) == {"type": "manual", "reason": "r"}
