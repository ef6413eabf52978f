"""Why a training run happened: the schedule, a person (with a reason), or the Asset events that triggered it."""

from __future__ import annotations


def test_the_cause_of_a_run_comes_from_its_type_and_events():
    from types import SimpleNamespace

    from airflow.utils.types import DagRunType

    from mlcycle.operators.model import _cause

    def context(run_type, events=None, reason=""):
        return {"dag_run": SimpleNamespace(run_type=run_type), "triggering_asset_events": events or {},
                "params": {"reason": reason}}

    assert _cause(context(DagRunType.SCHEDULED))["type"] == "schedule"
    assert _cause(context(DagRunType.MANUAL, reason="new features")) == {"type": "manual", "reason": "new features"}
    drift = SimpleNamespace(asset="drift.flights", extra={"ds": "2013-07-01", "source": "monitor"})
    cause = _cause(context(DagRunType.ASSET_TRIGGERED, {"drift.flights": [drift]}))
    assert cause == {"type": "asset", "events": [{"asset": "drift.flights", "ds": "2013-07-01", "source": "monitor"}]}
