"""The drift alert command (mlcycle.tools.alerts): retries with backoff on what may pass, an id that is
recorded once, and what it prints. A stand-in client plays Airflow; one test uses a refused port."""

from __future__ import annotations

import pytest
import tenacity

from mlcycle.tools import alerts
from mlcycle.tools.airflow_client import AirflowAPIError, AirflowClient, AirflowUnavailable
from mlcycle.tools.stack import free_port


class FakeAirflow:
    """Records events by alert id; ``failures`` are raised by the first calls, one per call."""

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.events: list[dict] = []
        self.failures = list(failures or [])
        self.posts = 0

    def connect(self) -> FakeAirflow:
        if self.failures:
            raise self.failures.pop(0)
        return self

    def find_event(self, uri: str, key: str, value: str) -> dict | None:
        return next((e for e in self.events if e["extra"][key] == value), None)

    def create_asset_event(self, uri: str, extra: dict) -> dict:
        self.posts += 1
        event = {"id": len(self.events) + 1, "uri": uri, "extra": extra, "timestamp": "2013-07-01T00:00:00"}
        self.events.append(event)
        return event


def _send(airflow: FakeAirflow, alert_id: str = "a-1", tries: int = 4) -> alerts.Outcome:
    extra = alerts.alert_extra("flights", "test", alert_id, ["temp"])
    return alerts.send_alert(airflow.connect, "flights", extra, tries, wait=tenacity.wait_none())


def test_refused_connections_timeouts_and_5xx_are_retried_until_accepted():
    airflow = FakeAirflow([AirflowUnavailable("ConnectError: refused"), AirflowUnavailable("ReadTimeout"),
                           AirflowUnavailable("POST /assets/events: HTTP 503")])
    outcome = _send(airflow)
    assert (outcome.status, outcome.tries, airflow.posts) == ("accepted", 4, 1)
    assert outcome.event["extra"]["alert_id"] == "a-1"
    assert outcome.line().startswith("accepted: alert a-1 recorded on ")
    assert "after 4 tries" in outcome.line()


def test_an_id_already_recorded_is_a_duplicate_and_is_not_posted_again():
    airflow = FakeAirflow()
    assert _send(airflow).status == "accepted"
    again = _send(airflow)
    assert (again.status, airflow.posts) == ("duplicate", 1)
    assert again.line().startswith("duplicate: alert a-1 is already recorded (event 1")
    assert alerts.alert_extra("flights", "r")["alert_id"] != alerts.alert_extra("flights", "r")["alert_id"]


def test_it_gives_up_after_its_tries_and_says_why():
    airflow = FakeAirflow([AirflowUnavailable(f"HTTP 500 ({i})") for i in range(5)])
    outcome = _send(airflow, tries=3)
    assert (outcome.status, outcome.tries, airflow.posts) == ("gave up", 3, 0)
    assert "gave up after 3 tries" in outcome.line()
    assert "HTTP 500 (2)" in outcome.line()


def test_a_refusal_is_not_retried():
    airflow = FakeAirflow([AirflowAPIError("login failed: HTTP 401"), AirflowUnavailable("never reached")])
    with pytest.raises(AirflowAPIError, match="401"):
        _send(airflow)
    assert len(airflow.failures) == 1


def test_the_client_reports_a_refused_connection_as_worth_another_try():
    with pytest.raises(AirflowUnavailable, match="ConnectError"):
        AirflowClient(f"http://127.0.0.1:{free_port()}", "admin", "x", timeout=2)


def test_the_command_prints_gave_up_and_exits_1_when_airflow_is_unreachable(capsys):
    code = alerts.main(["flights", "--reason", "r", "--id", "x-1", "--tries", "2", "--password", "p",
                        "--airflow-url", f"http://127.0.0.1:{free_port()}"])
    assert code == 1
    assert "gave up after 2 tries" in capsys.readouterr().out
