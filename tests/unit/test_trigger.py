"""The trigger command's parsing of dates and parameters, and what it says before a run is created."""

from __future__ import annotations

import pytest

from mlcycle.tools import trigger
from mlcycle.tools.airflow_client import AirflowAPIError


@pytest.mark.parametrize(("text", "expected"), [
    ("2015-01-17", "2015-01-17T00:00:00Z"),
    ("2015-01-17T06:30:00+02:00", "2015-01-17T04:30:00Z"),
    ("2015-01-17T00:00:00Z", "2015-01-17T00:00:00Z"),
    (None, None),
])
def test_dates_become_utc_logical_dates(text, expected):
    assert trigger.logical_date(text) == expected


def test_a_bad_date_names_the_format():
    with pytest.raises(AirflowAPIError, match="'17/01/2015' is not a date: use YYYY-MM-DD"):
        trigger.logical_date("17/01/2015")


def test_params_are_json_values_else_text_and_override_conf():
    conf = trigger.run_conf('{"reason": "x", "window_days": 5}',
                            ["window_days=7", "reason=first model", "dry=true", "cols=[1, 2]"])
    assert conf == {"reason": "first model", "window_days": 7, "dry": True, "cols": [1, 2]}


@pytest.mark.parametrize(("conf", "params", "message"), [
    ("{not json", [], "--conf is not JSON"),
    ("[1, 2]", [], "--conf must be a JSON object"),
    ("", ["from_date"], "use key=value"),
])
def test_bad_parameters_say_how_to_write_them(conf, params, message):
    with pytest.raises(AirflowAPIError, match=message):
        trigger.run_conf(conf, params)


class FakeClient:
    """Answers GET /dags/<id> like Airflow; records PATCHes."""

    def __init__(self, dags: dict[str, bool]) -> None:
        self.dags, self.patched = dags, []

    def get(self, path, **params):
        if path == "/dags":
            return {"dags": [{"dag_id": d, "is_paused": p} for d, p in self.dags.items()
                             if params["dag_id_pattern"] in d]}
        dag_id = path.rsplit("/", 1)[1]
        if dag_id not in self.dags:
            raise AirflowAPIError("HTTP 404", 404)
        return {"dag_id": dag_id, "is_paused": self.dags[dag_id]}

    def request(self, method, path, json):
        self.patched.append((method, path, json))


def test_a_paused_dag_is_refused_unless_unpause_is_asked_which_unpauses_the_pipeline(capsys):
    client = FakeClient({"ingest_pizza": True, "validate_pizza": True, "train_pizza": False, "ingest_pizza_v2": True})
    with pytest.raises(AirflowAPIError, match="ingest_pizza is paused .* pass --unpause"):
        trigger.ready_dag(client, "ingest_pizza", unpause=False)
    assert client.patched == []
    trigger.ready_dag(client, "ingest_pizza", unpause=True)
    assert client.patched == [("PATCH", f"/dags/{d}", {"is_paused": False}) for d in ("ingest_pizza", "validate_pizza")]
    assert "unpaused ingest_pizza, validate_pizza" in capsys.readouterr().out


def test_a_running_dag_whose_next_stages_are_paused_gets_a_note(capsys):
    trigger.ready_dag(FakeClient({"ingest_pizza": False, "validate_pizza": True}), "ingest_pizza", unpause=False)
    assert "note: validate_pizza paused: the stages after this run wait" in capsys.readouterr().out


def test_an_unknown_dag_names_the_pipelines_dags():
    client = FakeClient({"ingest_pizza": False, "train_pizza": False})
    with pytest.raises(AirflowAPIError, match="no DAG 'ingst_pizza'; this pipeline has ingest_pizza, train_pizza"):
        trigger.ready_dag(client, "ingst_pizza", unpause=False)
