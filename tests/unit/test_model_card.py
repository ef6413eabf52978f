"""The model card: built from a version's tags, params and metrics, it says what the tags say; the plugin
shows it escaped."""

from __future__ import annotations

import json

import pytest

TAGS = {
    "data.window": "2013-07-01..2013-07-14", "data.rows": "12345", "data.md5": "0123456789abcdef0123456789abcdef",
    "data.dvc_pointer": "training/flights/md5=0123/data.parquet.dvc", "data.snapshot_uri": "file:///lake/x",
    "gx.days_validated": "14", "gx.all_published": "true", "estimator": "logistic_regression",
    "gate": "passed", "gate.verdict": "promote", "gate.reasons": "all tests passed",
    "gate.interval.roc_auc": "[0.1210, 0.1790] @ 0.95", "gate.interval.log_loss": "[0.0100, 0.0300] @ 0.95",
    "gate.test.roc_auc.absolute": "SUCCESS: roc_auc >= 0.6 (absolute)", "gate.report": "evaluation/gate_report.html",
    "approval": "approved", "approval.by": "ops <script>alert(1)</script>", "approval.at": "2026-12-05T10:00:00+00:00",
    "approval.comment": "intervals | look fine", "code.commit": "abc123", "cause": '{"type": "asset"}',
    "airflow.dag_id": "train_flights", "airflow.run_id": "manual__1", "promoted_at": "2026-12-05T10:01:00",
}
PARAMS = {"estimator": "logistic_regression", "window_days": "14", "C": "1.0"}
METRICS = {"holdout_roc_auc": 0.686, "holdout_log_loss": 0.51, "holdout_accuracy": 0.729}


@pytest.fixture
def card(flights_config):
    from mlcycle.core import model_card

    info = {"version": 7, "run_id": "run-7", "tags": TAGS, "aliases": ["champion"]}
    return model_card.build(flights_config, info, PARAMS, METRICS)


def _rows(card) -> dict[str, dict[str, str]]:
    return {title: dict(rows) for title, rows in card["sections"]}


def test_the_card_says_what_the_tags_say(card, flights_config):
    rows = _rows(card)
    assert rows["Data"] == {"window": TAGS["data.window"], "rows": TAGS["data.rows"], "md5": TAGS["data.md5"],
                            "DVC pointer": TAGS["data.dvc_pointer"], "snapshot": TAGS["data.snapshot_uri"]}
    assert rows["Great Expectations"] == {"days validated": "14", "every day published": "true"}
    assert rows["Training"] == {"estimator": "logistic_regression", **PARAMS}
    assert rows["Holdout metrics"]["roc_auc"].startswith("0.6860")
    assert rows["Holdout metrics"]["roc_auc"].endswith(TAGS["gate.interval.roc_auc"])
    assert rows["Holdout metrics"]["log_loss"].endswith(TAGS["gate.interval.log_loss"])
    assert rows["Holdout metrics"]["accuracy"] == "0.7290", "no interval where the gate compared nothing"
    assert (rows["Gate"]["result"], rows["Gate"]["verdict"]) == ("passed", "promote")
    assert rows["Gate"]["roc_auc.absolute"] == TAGS["gate.test.roc_auc.absolute"]
    assert rows["Approval"] == {"approval": "approved", "by": TAGS["approval.by"], "at": TAGS["approval.at"],
                                "comment": TAGS["approval.comment"]}
    assert rows["Lineage"]["code commit"] == "abc123"
    assert rows["Lineage"]["MLflow run"] == "run-7"
    assert rows["Lineage"]["dag_id"] == "train_flights"
    assert set(rows["Known limits"]) == {"window", "holdout", "gate", "labels"}
    assert TAGS["data.window"] in rows["Known limits"]["window"]
    assert "compared with the champion on roc_auc (tolerance 0.01) at confidence 0.95" in rows["Known limits"]["gate"]
    assert (card["model"], card["version"], card["aliases"]) == ("flights", 7, ["champion"])


def test_markdown_and_html_renderings_keep_values_safe(card):
    from mlcycle.core import model_card

    text = model_card.markdown(card)
    assert text.startswith("# Model card: flights v7")
    assert "| comment | intervals \\| look fine |" in text
    page = model_card.html(card)
    assert "<script>" not in page
    assert "ops &lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_plugin_shows_the_card_of_a_version(client, state, token, card):
    from mlcycle.core import lake, storage

    storage.write_bytes_atomic(f"{lake.model_card('flights', 7)}/model_card.json", json.dumps(card).encode())
    response = client.get("/mlcycle/reports/flights/card/v7", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert "Model card flights v7" in response.text
    assert TAGS["data.md5"] in response.text
    assert "<script>alert" not in response.text
    missing = client.get("/mlcycle/reports/flights/card/v8", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404
    assert client.get("/mlcycle/reports/flights/card/v7").status_code == 401
