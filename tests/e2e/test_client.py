"""The REST client against the session's real Airflow: what a person sees when a date has a run already."""

from __future__ import annotations

import pytest

from mlcycle.tools.airflow_client import AirflowAPIError


def test_a_logical_date_that_has_a_run_is_refused_with_what_to_do(stack):
    dag_id, day = "audit_flights", "2013-01-02T00:00:00Z"  # the alias audit: running it changes nothing
    if not any(r["logical_date"].startswith("2013-01-02") for r in stack.client.dag_runs(dag_id)):
        stack.client.trigger(dag_id, logical_date=day)
    with pytest.raises(AirflowAPIError, match="has a run for the logical date .* already, and a date runs once: "
                                              "clear that run") as caught:
        stack.client.trigger(dag_id, logical_date=day)
    assert caught.value.status == 409
