"""``BaseNotifier`` classes for the lifecycle's events: task failure, quarantine, drift, promotion, incident.

Every notification goes to the task log and to the notifications file (:mod:`mlcycle.core.notify`).
When the Airflow connections exist, it also goes to Slack (``slack_default``, a Slack webhook
connection) and by e-mail (``smtp_default``, to ``$MLCYCLE_NOTIFY_EMAIL``): no code change, and a
channel that fails is logged, never fails the task.

Titles and messages carry data (a task's error, gate reasons, a person's note): the e-mail escapes
them as HTML, Slack's text escapes ``&``, ``<`` and ``>`` (no injected links or mentions), and the
subject is one line.
"""

from __future__ import annotations

from html import escape
from typing import Any

from airflow.sdk import BaseHook, BaseNotifier, Context
from airflow.sdk.exceptions import AirflowNotFoundException

from mlcycle import settings


class LifecycleNotifier(BaseNotifier):
    """One notification: ``event`` (see :data:`mlcycle.core.notify.EVENTS`), a title and a message."""

    template_fields = ("title", "message")
    event = ""

    def __init__(self, *, pipeline: str, title: str = "", message: str = "", details: dict[str, Any] | None = None,
                 slack_conn_id: str = "slack_default", smtp_conn_id: str = "smtp_default") -> None:
        super().__init__()
        self.pipeline = pipeline
        self.title = title
        self.message = message
        self.details = details or {}
        self.slack_conn_id = slack_conn_id
        self.smtp_conn_id = smtp_conn_id

    def notify(self, context: Context) -> None:
        from mlcycle.core import notify

        notify.record(self.event, self.pipeline, self.title, self.message, self.details)
        for channel, conn_id in (("slack", self.slack_conn_id), ("email", self.smtp_conn_id)):
            if not _exists(conn_id):
                continue
            try:
                getattr(self, f"_{channel}")()
            except Exception as exc:  # a notification channel must never fail the task
                self.log.warning("could not notify through %s (%s): %s", conn_id, channel, exc)

    def _slack(self) -> None:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        text = f"*{_slack_escape(self.title)}*\n{_slack_escape(self.message)}"
        SlackWebhookHook(slack_webhook_conn_id=self.slack_conn_id).send_text(text)
        self.log.info("notified Slack through %s", self.slack_conn_id)

    def _email(self) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        recipients = settings.notify_email()
        if not recipients:
            self.log.warning("%s exists but MLCYCLE_NOTIFY_EMAIL names no recipient: no e-mail", self.smtp_conn_id)
            return
        with SmtpHook(smtp_conn_id=self.smtp_conn_id) as hook:
            hook.send_email_smtp(to=recipients, subject=f"[mlcycle] {' '.join(self.title.split())}",
                                 html_content=_html(self.message))
        self.log.info("e-mailed %s through %s", recipients, self.smtp_conn_id)


def _slack_escape(text: str) -> str:
    """Slack's escaping of text: ``<...>`` would be a link, a mention or ``<!channel>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html(message: str) -> str:
    """The message as an HTML paragraph: escaped, its line breaks kept."""
    return "<p>" + "<br>".join(escape(line) for line in message.splitlines()) + "</p>"


def _exists(conn_id: str) -> bool:
    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


class TaskFailureNotifier(LifecycleNotifier):
    """On a task's failure (``on_failure_callback``): which task, which run, and the error."""

    event = "task_failed"

    def notify(self, context: Context) -> None:
        ti, error = context["ti"], context.get("exception")
        self.title = f"{ti.dag_id}.{ti.task_id} failed"
        self.message = f"run {ti.run_id}, try {ti.try_number}: {error}"
        self.details = {"dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id,
                        "map_index": getattr(ti, "map_index", -1)}
        super().notify(context)


class QuarantineNotifier(LifecycleNotifier):
    """A day with more rows in quarantine than the pipeline's notification threshold."""

    event = "quarantine"


class DriftNotifier(LifecycleNotifier):
    """The monitor raised drift (and with it, retraining)."""

    event = "drift"


class PromotionNotifier(LifecycleNotifier):
    """The gate's decision was applied: ``promotion``, or ``rejection`` when ``promoted`` is False."""

    def __init__(self, *, promoted: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event = "promotion" if promoted else "rejection"


class IncidentNotifier(LifecycleNotifier):
    """An alias moved outside the pipeline (:func:`mlcycle.core.governance.audit`'s incident record)."""

    event = "incident"

    def __init__(self, *, incident: dict[str, Any], **kwargs: Any) -> None:
        kwargs.setdefault("title", f"{incident['model']}: champion or previous moved outside the pipeline "
                                   f"({incident['found']})")
        super().__init__(message=incident["reason"], details=incident, **kwargs)
