"""Notifications reach the file always, and a real SMTP server and a Slack-style webhook when configured.

The SMTP server (aiosmtpd) and the webhook (http.server) run on loopback; the notifiers reach them
through Airflow connections given as ``AIRFLOW_CONN_*`` environment variables, as a user would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from mlcycle.tools import stack


@pytest.fixture
def notifications(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCYCLE_NOTIFICATIONS_FILE", str(tmp_path / "notifications.jsonl"))
    from mlcycle.core import notify

    return notify


@pytest.fixture
def smtp_server(monkeypatch) -> Iterator[list]:
    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    port = stack.free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.com"}}))
    monkeypatch.setenv("MLCYCLE_NOTIFY_EMAIL", "ml-team@example.com")
    try:
        yield received
    finally:
        controller.stop()


@pytest.fixture
def slack_webhook(monkeypatch) -> Iterator[list]:
    received: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", stack.free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps({
        "conn_type": "slackwebhook", "password": f"http://127.0.0.1:{server.server_port}/services/T0/B0/x"}))
    try:
        yield received
    finally:
        server.shutdown()


def test_without_connections_a_notification_goes_to_the_file(notifications, monkeypatch):
    from mlcycle.orchestration.notifiers import DriftNotifier

    for name in ("AIRFLOW_CONN_SMTP_DEFAULT", "AIRFLOW_CONN_SLACK_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    DriftNotifier(pipeline="flights", title="drift in flights on 2013-07-01", message="temp, dewp")({})
    (entry,) = notifications.read("flights")
    assert entry["event"] == "drift"
    assert entry["title"] == "drift in flights on 2013-07-01"
    assert notifications.read("other") == []


def test_with_connections_it_also_goes_to_smtp_and_slack(notifications, smtp_server, slack_webhook):
    from mlcycle.orchestration.notifiers import PromotionNotifier

    PromotionNotifier(pipeline="flights", promoted=False, title="flights v3 rejected",
                      message="roc_auc 0.56 < 0.60")({})
    assert [e["event"] for e in notifications.read()] == ["rejection"]
    (mail,) = smtp_server
    assert mail.rcpt_tos == ["ml-team@example.com"]
    assert b"flights v3 rejected" in mail.content
    (post,) = slack_webhook
    assert "flights v3 rejected" in post["text"]


def test_a_failing_channel_is_logged_and_never_raises(notifications, monkeypatch, capsys):
    from mlcycle.orchestration.notifiers import QuarantineNotifier

    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps({
        "conn_type": "slackwebhook", "password": f"http://127.0.0.1:{stack.free_port()}/nobody-listens"}))
    QuarantineNotifier(pipeline="flights", title="12% quarantined", message="null labels")({})
    assert [e["event"] for e in notifications.read()] == ["quarantine"]
    assert "could not notify through slack_default" in capsys.readouterr().out  # Airflow's task logger


def test_task_failure_names_the_task_run_and_error(notifications, monkeypatch):
    from types import SimpleNamespace

    from mlcycle.orchestration.notifiers import TaskFailureNotifier

    monkeypatch.delenv("AIRFLOW_CONN_SLACK_DEFAULT", raising=False)
    ti = SimpleNamespace(dag_id="ingest_flights", task_id="ingest", run_id="manual__1", try_number=1, map_index=0)
    TaskFailureNotifier(pipeline="flights")({"ti": ti, "exception": ValueError("missing column 'carrier'")})
    (entry,) = notifications.read()
    assert entry["title"] == "ingest_flights.ingest failed"
    assert "missing column 'carrier'" in entry["message"]


def test_an_unknown_event_is_refused(notifications):
    with pytest.raises(ValueError, match="unknown notification event"):
        notifications.record("party", "flights", "t", "m")


def test_data_in_a_notification_is_escaped_for_html_and_slack(notifications, smtp_server, slack_webhook):
    """Issue 12: a message carries data (an error, a reason); it must not become markup, a link or a mention."""
    import email

    from mlcycle.orchestration.notifiers import PromotionNotifier

    payload = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)> <!channel> <https://evil|ok>"
    PromotionNotifier(pipeline="flights", promoted=False, title="flights v4\nBcc: someone@example.com",
                      message=f"note: {payload}\nsecond line")({})
    (mail,) = smtp_server
    parsed = email.message_from_bytes(mail.content)
    assert parsed["Subject"] == "[mlcycle] flights v4 Bcc: someone@example.com"  # one line: no header injected
    html = next(p.get_payload(decode=True).decode() for p in parsed.walk() if p.get_content_type() == "text/html")
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in html
    assert html.endswith("<br>second line</p>")
    (post,) = slack_webhook
    assert "<!channel>" not in post["text"]
    assert "<https://evil|ok>" not in post["text"]
    assert "&lt;!channel&gt;" in post["text"]
