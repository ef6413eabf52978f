"""The serving app as it runs: a real ``python -m mlcycle.serving`` with two worker processes on a free port,
against the session's embedded stack (MLflow behind its auth app, the January champion of ``flights``).
v2 is the champion's model registered again with a gate verdict of its own, so the versions differ only
by number (every answer names its version, which is what the swap tests follow).

    online = batch for the champion -> bad payloads -> v2 pending: shadow online and in score
    -> promote v2 and roll back under load -> the request log in the lake, monitored
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from mlcycle.tools import stack as local_stack

PIPELINE = "flights"
KEY = "test-key-0123456789"


def _start_server(root: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "MLCYCLE_SERVING_API_KEY": KEY, "MLCYCLE_SERVING_POLL_SECONDS": "1",
           "MLCYCLE_SERVING_FLUSH_SECONDS": "1", "MLCYCLE_SERVING_PIPELINES": PIPELINE,
           "PROMETHEUS_MULTIPROC_DIR": str(root / "prometheus")}
    (root / "prometheus").mkdir()
    log = (root / "serving.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "mlcycle.serving", "--port", str(port), "--workers", "2"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


@pytest.fixture(scope="module")
def served(stack, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The serving app (2 workers) answering with the stack's champion; v2 made a non-pending, rolled-back
    version at the end, so the modules after this one see the registry as before but for one version."""
    from mlcycle.core import registry

    root = tmp_path_factory.mktemp("serving")
    port = local_stack.free_port()
    champion = registry.champion(PIPELINE)
    server = _start_server(root, port)
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLCYCLE_SERVING_URL", url)  # register and rollback notify this server
        patch.setenv("MLCYCLE_SERVING_API_KEY", KEY)
        try:
            local_stack.poll_until(lambda: local_stack.http_ok(f"{url}/ready"), 180, "serving app",
                                   still_alive=lambda: None if server.poll() is None
                                   else (root / "serving.log").read_text())
            served = SimpleNamespace(config=stack.config, url=url, v1=champion["version"], run_id=champion["run_id"],
                                     root=root, day=stack.january[-1], v2=None)
            yield served
        finally:
            server.terminate()  # SIGTERM: the workers flush the request log, then exit
            server.wait(timeout=60)
            if served.v2:
                registry.client().set_model_version_tag(PIPELINE, str(served.v2), "approval", "superseded")


def _post(served: SimpleNamespace, body: Any, pipeline: str = PIPELINE, key: str = KEY, **kwargs) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{served.url}/predict/{pipeline}", content=content, timeout=60,
                      headers={"X-API-Key": key, "Content-Type": "application/json"}, **kwargs)


def _records(ds: str) -> list[dict[str, Any]]:
    from mlcycle.core import lake, storage

    day = storage.read_partition(lake.partition("validated", PIPELINE, ds))
    return json.loads(day.to_json(orient="records", date_format="iso"))


def _one_row() -> dict[str, Any]:
    return {"carrier": "UA", "origin": "EWR", "dest": "IAH", "sched_dep_time": 515, "sched_arr_time": 819, "hour": 5,
            "distance": 1400.0, "temp": 39.0, "dewp": 28.0, "humid": 64.4, "wind_dir": 260.0, "wind_speed": 12.7,
            "wind_gust": None, "precip": 0.0, "pressure": 1012.0, "visib": 10.0}


def test_online_predictions_equal_batch_scoring_row_for_row(served):
    from mlcycle.core import lake, storage
    from mlcycle.stages import scoring

    scoring.score_day(served.config, served.day)
    batch = storage.read_partition(lake.partition("predictions", PIPELINE, served.day))
    answer = _post(served, {"records": _records(served.day)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == {"name": PIPELINE, "version": served.v1, "run_id": served.run_id}
    assert body["predictions"] == batch["prediction"].tolist()
    assert body["probabilities"] == pytest.approx(batch["probability"].tolist(), rel=0, abs=1e-12)


@pytest.mark.parametrize(("body", "pipeline", "status", "says"), [
    ({"records": [{k: v for k, v in _one_row().items() if k != "carrier"}]}, PIPELINE, 422, "column 'carrier'"),
    ([{**_one_row(), "distance": "far"}], PIPELINE, 422, "expected a number"),
    ([], PIPELINE, 422, "empty"),
    (b"x" * (10 * 1024 * 1024), PIPELINE, 413, "MLCYCLE_SERVING_MAX_BODY_BYTES"),
    (b"{not json", PIPELINE, 400, "not JSON"),
    ([_one_row()], "no_such_pipeline", 404, "no pipeline 'no_such_pipeline'"),
], ids=["missing-column", "wrong-type", "empty-list", "10MB-body", "non-JSON", "unknown-pipeline"])
def test_a_bad_payload_gets_a_clear_4xx_and_the_server_stays_up(served, body, pipeline, status, says):
    answer = _post(served, body, pipeline)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]
    assert _post(served, [_one_row()]).status_code == 200


def test_metrics_count_requests_errors_and_latency_and_give_the_version_of_each_process(served):
    from prometheus_client.parser import text_string_to_metric_families

    samples = [(s.name, s.labels, s.value) for family in text_string_to_metric_families(
        httpx.get(f"{served.url}/metrics", timeout=30).text) for s in family.samples]

    def value(name: str, **labels: str) -> float:
        return sum(v for n, found, v in samples if n == name and labels.items() <= found.items())

    assert value("mlcycle_serving_requests_total", pipeline=PIPELINE, status="200") > 0
    assert value("mlcycle_serving_errors_total", pipeline=PIPELINE, kind="422") >= 3
    assert value("mlcycle_serving_request_seconds_count", pipeline=PIPELINE) > 0
    loaded = [(found, v) for n, found, v in samples if n == "mlcycle_serving_model_version"
              and found.get("role") == "champion"]
    assert len({found["pid"] for found, _ in loaded}) == 2, loaded  # one per worker process (multiprocess mode)
    assert {v for _, v in loaded} == {float(served.v1)}


def test_a_request_without_the_api_key_is_refused(served):
    answer = _post(served, [_one_row()], key="wrong")
    assert answer.status_code == 401
    assert "API key" in answer.json()["detail"]


def _v2(served: SimpleNamespace) -> int:
    """v1's model registered again with a passed gate, waiting for approval: a pending challenger."""
    from mlcycle.core import registry
    from mlcycle.core.gating import GateResult

    source = registry.version_info(PIPELINE, served.v1)
    tags = {k: v for k, v in source["tags"].items() if k.startswith(("data.", "code.", "estimator"))}
    mv = registry.client().create_model_version(PIPELINE, source["source"], source["run_id"],
                                                tags={**tags, "gate": "pending"},
                                                model_id=source["source"].removeprefix("models:/"))
    passed = GateResult(passed=True, tests=[], html_path="", json_path="", has_champion=True)
    registry.record_gate(PIPELINE, int(mv.version), passed, [])
    registry.client().set_model_version_tag(PIPELINE, mv.version, "approval", "pending")
    return int(mv.version)


def _models(served: SimpleNamespace) -> dict[str, Any]:
    return httpx.get(f"{served.url}/models", timeout=30).json()["models"][PIPELINE]


def test_a_pending_challenger_runs_in_shadow_online_and_in_score(served):
    from mlcycle.core import governance, lake, storage
    from mlcycle.stages import scoring

    served.v2 = _v2(served)
    assert governance.pending_challenger(served.config)["version"] == served.v2
    local_stack.poll_until(lambda: all((_models(served)["shadow"] or {}).get("version") == served.v2 for _ in range(6)),
                     60, "the shadow in every worker")
    answer = _post(served, [_one_row()] * 3).json()
    assert answer["model"]["version"] == served.v1  # the champion answers
    scoring.score_day(served.config, served.day)
    batch = storage.read_partition(lake.partition("predictions", PIPELINE, served.day))
    assert set(batch["shadow_version"]) == {served.v2}
    assert batch["shadow_prediction"].tolist() == batch["prediction"].tolist()  # the same model, numbered anew


def _client_loop(served: SimpleNamespace, stop: threading.Event, seen: list[tuple[int, int, int, int]]) -> None:
    while not stop.is_set():
        answer = _post(served, [_one_row()])
        body = answer.json() if answer.status_code == 200 else {}
        seen.append((answer.status_code, body.get("pid", 0), body.get("seq", 0), body.get("model", {}).get("version")))


def _all_answer(served: SimpleNamespace, seen: list, version: int, since: int) -> bool:
    recent = seen[since:]
    return len(recent) > 20 and all(v == version for *_, v in recent[-20:])


def test_promotion_and_rollback_under_load_fail_no_request_and_switch_each_process_once(served):
    from mlcycle.stages import modelling

    seen: list[tuple[int, int, int, int]] = []
    stop = threading.Event()
    clients = [threading.Thread(target=_client_loop, args=(served, stop, seen)) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        local_stack.poll_until(lambda: len(seen) > 20, 60, "the first answers")
        modelling.register_model(served.config, served.v2)  # promotes v2 and notifies the server
        mark = len(seen)
        local_stack.poll_until(lambda: _all_answer(served, seen, served.v2, mark), 60, "every answer from v2", 0.2)
        modelling.rollback_model(served.config, None, "serving test: roll back under load")
        mark = len(seen)
        local_stack.poll_until(lambda: _all_answer(served, seen, served.v1, mark), 60, "every answer from v1 again",
                               0.2)
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert [s for s in seen if s[0] != 200] == []
    processes = {pid for _, pid, _, _ in seen}
    for pid in processes:  # in the order the process answered (seq): v1 ... v2 ... v1, one switch each time
        ordered = [v for *_, v in sorted((s for s in seen if s[1] == pid), key=lambda s: s[2])]
        switches = [(a, b) for a, b in zip(ordered, ordered[1:], strict=False) if a != b]
        assert switches == [(served.v1, served.v2), (served.v2, served.v1)], (pid, switches, len(ordered))
    assert len(processes) == 2, f"answers came from {len(processes)} server process(es), not both workers"


def test_logged_requests_reach_the_lake_and_are_monitored(served):
    import datetime as dt

    from mlcycle.core import requestlog
    from mlcycle.stages import scoring

    today = dt.datetime.now(dt.UTC).date().isoformat()
    local_stack.poll_until(lambda: requestlog.parts(PIPELINE, today), 30, "a part file of today's requests")
    time.sleep(2.5)  # two flush intervals: what was answered before now is in the lake
    manifest = requestlog.close_day(PIPELINE, today, force=True)
    logged = requestlog.read_day(PIPELINE, today)
    assert manifest["rows"] == len(logged) > len(_records(served.day))
    assert {"request_id", "prediction", "probability", "model_version", "shadow_prediction"} <= set(logged.columns)
    assert set(logged["model_version"]) == {served.v1, served.v2}
    result = scoring.monitor_day(served.config, f"{scoring.ONLINE}{today}")
    assert result["rows"] == len(logged)
    assert result["report_uri"].endswith("drift_report.html")
    assert "drift-online" in result["report_uri"]
    agreement = scoring.shadow_agreement(served.config, served.v2)
    assert agreement["rows"] > 0
    assert agreement["rate"] == 1.0
