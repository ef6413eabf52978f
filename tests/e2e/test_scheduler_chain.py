"""The whole lifecycle on the embedded stack (PostgreSQL, MLflow, Airflow's components), on free ports.

Nothing here calls ``dag.test()``: after the January champion is seeded, every DAG run is created by
the scheduler (Assets) or through the REST API, as a user or an external monitor would.

    seed      Jan 1-4 ingested and validated, champion v1 trained on them (plain domain calls)
    scheduler Jul 1-3 land -> ingest -> validate (Asset) -> score + monitor (Asset) -> drift.flights
              -> train (Asset) -> evaluate -> register: the gate decides the champion
    REST      score with the champion; then a burst of 20 concurrent external drift alerts (5 sent again):
              each recorded once, one training, not twenty

The pipeline is ``flights`` with a test-sized window (four days, one held out), a one-point search and
a one-minute cooldown, from a pipelines folder of this module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from e2e.conftest import SUMMER
from mlcycle.tools.stack import NotReady, poll_until

pytestmark = pytest.mark.e2e
JULY = ["2013-07-01", "2013-07-02", "2013-07-03"]
HANG_GUARD = 900  # seconds; only stops a stuck scheduler from hanging CI, never a performance limit


def _wait(what: str, done: Callable[[], Any], check: Callable[[], None] = lambda: None) -> Any:
    """Poll until ``done()`` is truthy; ``check()`` fails early (e.g. on a failed run)."""
    def checked() -> Any:
        check()
        return done()

    try:
        return poll_until(checked, HANG_GUARD, what, interval=4)
    except NotReady as exc:
        pytest.fail(f"timed out: {exc}")


def _no_failed_runs(client, *dag_ids: str) -> Callable[[], None]:
    def check() -> None:
        failed = {d: [r["dag_run_id"] for r in client.dag_runs(d) if r["state"] == "failed"] for d in dag_ids}
        assert not any(failed.values()), f"failed runs: {failed}"
    return check


def _settled(client, *dag_ids: str) -> bool:
    return all(r["state"] in ("success", "failed") for d in dag_ids for r in client.dag_runs(d))


def _task_states(client, dag_id: str, run_id: str) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for ti in client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]:
        states.setdefault(ti["task_id"], []).append(ti["state"])
    return states


def _versions(cause_type: str | None = None) -> list[dict[str, Any]]:
    from mlcycle.core import registry

    versions = [registry.version_info("flights", int(v.version))
                for v in registry.client().search_model_versions("name = 'flights'")]
    return sorted((v for v in versions
                   if cause_type is None or json.loads(v["tags"]["cause"]).get("type") == cause_type),
                  key=lambda v: v["version"])


STAGES = ["ingest_flights", "validate_flights", "score_flights", "monitor_flights", "train_flights",
          "evaluate_flights", "register_flights"]


@pytest.fixture(scope="module")
def drift_chain(stack) -> SimpleNamespace:
    """July lands; everything after the file drop is up to the scheduler."""
    from mlcycle import settings
    from mlcycle.core import registry
    from mlcycle.sources import nycflights

    client = stack.client
    client.wait_for_dags(STAGES)
    for ds in JULY:
        nycflights.land_day(ds, settings.landing_uri(), stack.config.landing_path(ds))
    client.run_days("ingest_flights", JULY)
    check = _no_failed_runs(client, *STAGES)
    trained = _wait("an asset-triggered train_flights run to finish",
                    lambda: [r for r in client.dag_runs("train_flights")
                             if r["run_type"] == "asset_triggered" and r["state"] == "success"], check)
    _wait("the drift-triggered version to be gated and registered",
          lambda: _versions("asset") and all(v["tags"].get("gate") in ("passed", "failed") for v in _versions())
          and not registry.alias_version("flights", registry.CHALLENGER) and _settled(client, *STAGES), check)
    return SimpleNamespace(train_runs=trained)


def test_july_drifts_and_the_drift_asset_retrains_through_the_gate(stack, drift_chain):
    from mlcycle.core import registry, storage

    client = stack.client
    ingest, validate = client.dag_runs("ingest_flights"), client.dag_runs("validate_flights")
    assert {r["logical_date"][:10] for r in ingest} == set(JULY)
    assert validate
    assert {r["run_type"] for r in validate} == {"asset_triggered"}
    validated = storage.list_partitions("validated", "flights")
    # SUMMER: the days test_overview's `monitored` fixture validated in this session, if it ran first
    assert [d for d in validated if d not in SUMMER] == stack.january + JULY
    raw_events = [e for e in client.get("/assets/events", limit=100)["asset_events"]
                  if e["uri"].endswith("/raw/flights")]
    assert sorted(e["extra"]["ds"] for e in raw_events) == JULY

    # the monitor found drift against the January champion and raised drift.flights
    drift_events = [e for e in client.get("/assets/events", limit=100)["asset_events"]
                    if e["uri"].endswith("/monitoring/drift/flights")]
    assert drift_events, "monitor_flights raised no drift event"
    extra = drift_events[0]["extra"]
    assert extra["source"] == "monitor"
    assert extra["ds"] in JULY
    assert {"temp", "dewp"} <= set(extra["drifted_columns"])
    assert extra["champion"] == stack.seeded["version"]
    assert storage.exists(extra["report_uri"])

    # the drift-triggered training: its cause is on the MLflow run and on the model version. (An alert
    # that came before enough July days were validated was deferred; later ones inside the cooldown skipped.)
    retrained = _versions("asset")[-1]
    cause = json.loads(retrained["tags"]["cause"])
    assert cause["type"] == "asset"
    assert any(e.get("source") == "monitor" and e.get("drifted_columns") for e in cause["events"])
    assert registry.client().get_run(retrained["run_id"]).data.tags["cause"] == retrained["tags"]["cause"]
    assert retrained["tags"]["data.window"].startswith(JULY[0])
    for version in _versions("asset"):
        assert version["tags"]["gate"] in ("passed", "failed"), "every drift-triggered version went through the gate"

    # the champion is whatever the gate decided
    champion = registry.alias_version("flights", registry.CHAMPION)
    gate = retrained["tags"]["gate"]
    assert champion == (retrained["version"] if gate == "passed" else stack.seeded["version"])
    assert registry.history("flights")[-1]["action"] == ("promote" if gate == "passed" else "reject")


def test_predictions_are_made_by_the_champion(stack, drift_chain):
    from mlcycle.core import lake, registry, storage

    client = stack.client
    # score handles every validated day without predictions once there is a champion: July, and the SUMMER
    # days test_overview's fixture validated in this session, if it ran first
    summer = set(SUMMER) & set(storage.list_partitions("validated", "flights"))
    assert set(storage.list_partitions("predictions", "flights")) == set(JULY) | summer
    run = client.trigger("score_flights", conf={"ds": JULY[-1]})
    check = _no_failed_runs(client, "score_flights")
    _wait("the manual score run", lambda: client.dag_runs("score_flights")[-1]["state"] == "success"
          and any(r["dag_run_id"] == run["dag_run_id"] and r["state"] == "success"
                  for r in client.dag_runs("score_flights")), check)
    predictions = storage.read_partition(lake.partition("predictions", "flights", JULY[-1]))
    assert set(predictions["model_version"]) == {registry.alias_version("flights", registry.CHAMPION)}
    assert len(predictions) > 0


BURST = 20


def test_a_burst_of_twenty_concurrent_alerts_is_recorded_once_each_and_trains_once(stack, drift_chain, capsys):
    """20 alert commands at once, then 5 of them again (a monitor that retries): 20 events, 5 duplicates
    printed, every component healthy, no run left queued, and one training (the cooldown skips the rest)."""
    from concurrent.futures import ThreadPoolExecutor

    from mlcycle.core import registry
    from mlcycle.tools import alerts, control

    client = stack.client
    last = registry.last_alert_training("flights")
    cooldown = stack.config.monitoring.cooldown_minutes * 60
    time.sleep(max(0.0, cooldown - (time.time() - last.timestamp()) + 1))  # let the cooldown run out
    before = {r["dag_run_id"] for r in client.dag_runs("train_flights")}
    versions_before = {v["version"] for v in _versions()}
    args = ["flights", "--airflow-url", stack.rt.airflow_url, "--password", stack.rt.password(), "--columns", "temp"]
    ids = [f"burst-{i}" for i in range(BURST)]

    def send(alert_id: str) -> int:
        return alerts.main([*args, "--reason", f"external monitor alert {alert_id}", "--id", alert_id])

    with ThreadPoolExecutor(BURST) as pool:
        assert list(pool.map(send, ids)) == [0] * BURST
        assert list(pool.map(send, ids[:5])) == [0] * 5
    printed = capsys.readouterr().out
    assert printed.count("accepted: alert burst-") == BURST, printed
    assert printed.count("duplicate: alert burst-") == 5, printed
    assert "gave up" not in printed

    check = _no_failed_runs(client, "train_flights", "evaluate_flights", "register_flights")
    _wait("the alert-triggered runs to finish", lambda: [r for r in client.dag_runs("train_flights")
                                                         if r["dag_run_id"] not in before]
          and _settled(client, "train_flights", "evaluate_flights", "register_flights")
          and not registry.alias_version("flights", registry.CHALLENGER), check)
    events = [e for e in client.get("/assets/events", limit=500)["asset_events"]
              if e["uri"].endswith("/monitoring/drift/flights") and e["extra"].get("source") == "external"]
    assert sorted(e["extra"]["alert_id"] for e in events) == sorted(ids), "each alert recorded exactly once"
    assert all(ok for ok, _ in control.health(stack.rt).values()), control.health(stack.rt)
    queued = {d: [r["dag_run_id"] for r in client.dag_runs(d) if r["state"] in ("queued", "running")] for d in STAGES}
    assert not any(queued.values()), queued
    runs = [r for r in client.dag_runs("train_flights") if r["dag_run_id"] not in before]
    assert {r["run_type"] for r in runs} == {"asset_triggered"}
    states = [_task_states(client, "train_flights", r["dag_run_id"])["train"] for r in runs]
    assert sum(s == ["success"] for s in states) == 1, states
    assert all(s in (["success"], ["skipped"]) for s in states), states

    new = [v for v in _versions() if v["version"] not in versions_before]
    assert len(new) == 1, "twenty alerts must train one model, not twenty"
    cause = json.loads(new[0]["tags"]["cause"])
    assert {e["source"] for e in cause["events"]} == {"external"}
    assert set(new[0]["tags"]["alert_ids"].split(",")) <= set(ids)
    if len(runs) > 1:  # the alerts that came in after the training were recorded as skipped
        experiment = registry.client().get_experiment_by_name("flights-monitoring")
        assert registry.client().search_runs([experiment.experiment_id], "tags.alert = 'skipped'")


def test_a_bad_param_is_refused_at_trigger_time_with_what_is_allowed(stack):
    from mlcycle.tools.airflow_client import AirflowAPIError

    runs = len(stack.client.dag_runs("train_flights"))
    with pytest.raises(AirflowAPIError, match="400") as refused:
        stack.client.trigger("train_flights", conf={"estimator": "xgboost"})
    assert "logistic_regression" in str(refused.value), "the message lists the allowed estimators"
    with pytest.raises(AirflowAPIError, match="400"):
        stack.client.trigger("train_flights", conf={"window_days": 1})
    assert len(stack.client.dag_runs("train_flights")) == runs


def _published(pipeline: str) -> dict[str, tuple[bytes, tuple[int, float] | None]]:
    """Every published day of every zone a day's data goes through (raw, validated, predictions, drift
    report): its manifest and the manifest's size and modification time, keyed ``<zone>/<day>``."""
    from mlcycle.core import lake, storage

    folders = {zone: {d: lake.partition(zone, pipeline, d) for d in storage.list_partitions(zone, pipeline)}
               for zone in ("raw", "validated", "predictions")}
    folders["drift"] = {n.removeprefix("ds="): lake.drift_report(pipeline, n.removeprefix("ds="))
                        for n in storage.list_names(f"{lake.zone('reports', pipeline)}/drift")}
    manifests = {f"{zone}/{day}": f"{folder}/{lake.MANIFEST_FILE}"
                 for zone, days in folders.items() for day, folder in days.items()}
    return {key: (storage.read_bytes(uri), storage.stat(uri)) for key, uri in manifests.items() if storage.exists(uri)}


def test_a_corrected_file_redoes_its_day_and_nothing_else(stack, drift_chain):
    """A day the producer cut short at a row boundary (15 % of the flights missing: no check can tell) was
    ingested, validated, scored and monitored. The producer re-sends the whole day (while the first copy is
    still on its way through); a run of ingest_flights for that day (From = To = the day, as a person would
    trigger it) is what notices it. The scheduler does
    the rest: validate, score and monitor redo that day, and no other day's outputs are written again."""
    import datetime as dt

    from mlcycle import settings
    from mlcycle.core import lake, registry, storage
    from mlcycle.sources import landing, nycflights
    from mlcycle.stages import ingestion, scoring

    client, config = stack.client, stack.config
    window_end = registry.champion("flights")["tags"]["data.window"].rpartition("..")[2]
    ds = (dt.date.fromisoformat(window_end) + dt.timedelta(days=2)).isoformat()  # scored: after the window
    full = nycflights.day(ds)
    landing.land_frame(full.head(int(len(full) * 0.85)), settings.landing_uri(), config.landing_path(ds))
    ingestion.ingest_day(config, ds)
    landing.land_frame(full, settings.landing_uri(), config.landing_path(ds))  # re-sent whole, under the same name
    ingestion.validate_day(config, ds)
    assert scoring.score_day(config, ds)["rows"] == storage.read_manifest(lake.partition("validated", "flights", ds))[
        "rows"]
    scoring.monitor_day(config, ds)
    before = _published("flights")
    first_md5 = json.loads(before[f"validated/{ds}"][0])["md5"]

    runs = {d: {r["dag_run_id"] for r in client.dag_runs(d)} for d in STAGES}
    client.trigger("ingest_flights", conf={"from_date": ds, "to_date": ds}, logical_date=f"{ds}T00:00:00Z")
    validated = lake.partition("validated", "flights", ds)

    def redone() -> bool:
        try:
            md5 = storage.read_manifest(validated)["md5"]
            done = [storage.read_manifest(lake.partition("predictions", "flights", ds)),
                    storage.read_manifest(lake.drift_report("flights", ds))]
        except storage.PartitionNotFound:
            return False
        return md5 != first_md5 and all(m.get("validated_md5") == md5 for m in done)

    _wait("validate, score and monitor to redo the corrected day",
          lambda: redone() and _settled(client, *STAGES), _no_failed_runs(client, *STAGES))
    after = _published("flights")
    for zone in ("raw", "validated", "predictions", "drift"):
        assert after[f"{zone}/{ds}"] != before[f"{zone}/{ds}"], f"{zone} of {ds} was not redone"
    assert storage.read_manifest(validated)["rows"] > json.loads(before[f"validated/{ds}"][0])["rows"]
    assert storage.read_manifest(lake.partition("raw", "flights", ds))["rows"] == len(full)
    others = {key: value for key, value in after.items() if not key.endswith(ds)}
    assert others == {key: value for key, value in before.items() if not key.endswith(ds)}, "other days redone"
    new = {d: [r for r in client.dag_runs(d) if r["dag_run_id"] not in runs[d]] for d in STAGES[:4]}
    assert {r["run_type"] for d in STAGES[1:4] for r in new[d]} == {"asset_triggered"}, new
    assert all(new[d] for d in STAGES[:4]), f"a stage did not run: {new}"
