"""Two stacks on one machine: a second embedded stack on other free ports, in its own state folder,
starts beside the session's, passes health, parses the DAGs and runs one ingest through the trigger
command, while the first stays healthy and untouched."""

from __future__ import annotations

import pytest

from conftest import local_state
from mlcycle.tools.stack import free_port

pytestmark = pytest.mark.e2e
DAY = "2013-02-01"


def test_a_second_stack_on_other_ports_runs_an_ingest_beside_the_first(stack, tmp_path, monkeypatch, capsys):
    from mlcycle import settings
    from mlcycle.core import storage
    from mlcycle.sources import nycflights
    from mlcycle.tools import control, runtime, trigger
    from mlcycle.tools.airflow_client import AirflowClient

    first_raw = storage.list_partitions("raw", "flights")
    second = runtime.Runtime(home=tmp_path / "state", airflow_port=free_port(), mlflow_port=free_port())
    assert not set(second.ports().values()) & set(stack.rt.ports().values())
    local_state(monkeypatch, second.home, settings.pipelines_dir())
    try:
        runtime.start(second)
        assert all(ok for ok, _ in control.health(second).values()), control.health(second)
        AirflowClient(second.airflow_url, runtime.USERNAME, second.password()).wait_for_dags(["ingest_flights"])
        nycflights.land_day(DAY, settings.landing_uri(), stack.config.landing_path(DAY))
        command = ["ingest_flights", "--date", DAY, "--unpause", "--airflow-url", second.airflow_url,
                   "--password", second.password(), "--wait-minutes", "15"]
        assert trigger.main(command) == 0, capsys.readouterr()
        assert storage.list_partitions("raw", "flights") == [DAY]
        assert trigger.main(command) == 2  # the same logical date again: refused, with what to do
        refused = capsys.readouterr().err
        assert f"ingest_flights has a run for the logical date {DAY}T00:00:00Z already" in refused
        assert "clear that run" in refused
    finally:
        runtime.stop(second)
    monkeypatch.undo()
    assert all(ok for ok, _ in control.health(stack.rt).values()), control.health(stack.rt)
    assert storage.list_partitions("raw", "flights") == first_raw  # nothing of the second reached the first
