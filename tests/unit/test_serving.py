"""The serving app's pieces without a server: payload checks, the request log in a real lake folder, the flusher."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from mlcycle.core import requestlog
from mlcycle.serving import payload

COLUMNS = ["carrier", "distance", "hour"]


def _record(**changes):
    return {"carrier": "UA", "distance": 1400.0, "hour": 5, **changes}


@pytest.mark.parametrize(("body", "status", "says"), [
    (b"{nope", 400, "not JSON"),
    (b"[]", 422, "empty"),
    (b'{"rows": []}', 422, "'records'"),
    (b'"text"', 422, "list of records"),
    (json.dumps([_record()] * 3).encode(), 422, "at most 2"),
])
def test_a_body_that_holds_no_usable_records_is_refused_with_the_reason(body, status, says):
    with pytest.raises(payload.PayloadError) as caught:
        payload.records_of(body, max_rows=2)
    assert caught.value.status == status
    assert says in caught.value.message


def test_records_come_as_a_list_or_under_records_or_dataframe_records():
    for body in ([_record()], {"records": [_record()]}, {"dataframe_records": [_record()]}):
        assert payload.records_of(json.dumps(body).encode(), 10) == [_record()]


@pytest.mark.parametrize(("record", "column", "problem"), [
    ({"carrier": "UA", "hour": 5}, "distance", "missing"),
    (_record(distance="far"), "distance", "expected a number"),
    (_record(hour=True), "hour", "expected a number"),
    (_record(carrier=7), "carrier", "expected a string"),
])
def test_a_wrong_record_is_named_with_its_column_and_problem(flights_config, record, column, problem):
    with pytest.raises(payload.PayloadError) as caught:
        payload.check([_record(), record], COLUMNS, flights_config)
    assert caught.value.status == 422
    assert f"record 1, column '{column}'" in caught.value.message
    assert problem in caught.value.problems[0]["problem"]


def test_nulls_and_extra_keys_pass_and_the_frame_keeps_the_model_columns_in_order(flights_config):
    records = [_record(distance=None, is_late=1)]
    payload.check(records, COLUMNS, flights_config)
    frame = payload.frame_of(records, COLUMNS)
    assert list(frame.columns) == COLUMNS
    assert frame["distance"].isna().all()


def test_a_day_of_parts_is_closed_by_a_manifest_and_read_back_whole(state):
    lake = f"file://{state / 'lake'}"
    for rows in (2, 3):
        requestlog.write_part("flights", "2026-01-01", pd.DataFrame({"x": range(rows)}), lake)
    assert requestlog.days("flights", lake) == ["2026-01-01"]
    manifest = requestlog.close_day("flights", "2026-01-01", lake)
    assert manifest["rows"] == 5
    assert len(manifest["parts"]) == 2
    assert requestlog.read_day("flights", "2026-01-01", lake)["x"].tolist() == [0, 1, 0, 1, 2]
    requestlog.write_part("flights", "2026-01-01", pd.DataFrame({"x": [9]}), lake)  # a late flush
    assert requestlog.close_day("flights", "2026-01-01", lake)["md5"] != manifest["md5"]


def test_today_is_not_closed_unless_forced(state):
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert not requestlog.closable(today)
    with pytest.raises(ValueError, match="still open"):
        requestlog.close_day("flights", today)
    end = dt.datetime.combine(dt.date(2026, 1, 2), dt.time(), dt.UTC)
    assert not requestlog.closable("2026-01-01", end + requestlog.CLOSE_GRACE / 2)
    assert requestlog.closable("2026-01-01", end + requestlog.CLOSE_GRACE)


class _Model:
    feature_names_in_ = np.array(COLUMNS, dtype=object)

    def predict(self, x):
        return np.zeros(len(x), dtype=int)

    def predict_proba(self, x):
        return np.tile([0.75, 0.25], (len(x), 1))


def test_the_flusher_writes_one_part_per_day_with_shadow_predictions_beside(state, flights_config):
    from mlcycle.serving.models import Loaded, Slot
    from mlcycle.serving.recorder import Entry, Recorder

    champion = Loaded("flights", "flights", 3, "run3", _Model(), COLUMNS, 0.0)
    shadow = Loaded("flights", "flights", 4, "run4", _Model(), COLUMNS, 0.0)
    recorder = Recorder({"flights": Slot(flights_config)}, flush_seconds=60)
    frame = payload.frame_of([_record(), _record()], COLUMNS)
    moment = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    for request in ("a", "b"):
        recorder.record(Entry(request, moment, frame, champion, np.array([1, 0]), np.array([0.6, 0.4]), shadow))
    (written,) = recorder.flush()
    assert "/requests/flights/ds=2026-01-01/part-" in written
    requestlog.close_day("flights", "2026-01-01")
    logged = requestlog.read_day("flights", "2026-01-01")
    assert logged["request_id"].tolist() == ["a", "a", "b", "b"]
    assert set(logged["model_version"]) == {3}
    assert set(logged["shadow_version"]) == {4}
    assert logged["shadow_prediction"].tolist() == [0, 0, 0, 0]
    assert recorder.flush() == []


def test_the_runtime_supervises_the_serving_app_on_127_0_0_1_with_a_key_kept_per_state_folder(tmp_path, monkeypatch):
    from mlcycle.tools import runtime

    monkeypatch.delenv("MLCYCLE_SERVING_API_KEY", raising=False)
    assert "serving" not in [c["name"] for c in runtime.Runtime(tmp_path).components()]  # tests' stacks
    rt = runtime.Runtime(tmp_path, serving_port=18123)
    (serving,) = [c for c in rt.components() if c["name"] == "serving"]
    assert serving["argv"][-4:] == ["--host", "127.0.0.1", "--port", "18123"]
    assert serving["watch"] == "http:http://127.0.0.1:18123/health"
    assert rt.ports()["serving"] == 18123
    key = rt.serving_env()["MLCYCLE_SERVING_API_KEY"]
    assert len(key) >= 20
    assert runtime.Runtime(tmp_path, serving_port=18123).serving_key() == key
    monkeypatch.setenv("MLCYCLE_SERVING_API_KEY", "from-dot-env")
    assert rt.serving_env()["MLCYCLE_SERVING_API_KEY"] == "from-dot-env"
