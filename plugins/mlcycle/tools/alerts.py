"""Raise a drift alert from outside Airflow, e.g. from your monitoring system; it is never lost.

It records an event on the pipeline's ``drift.<p>`` Asset through Airflow's REST API
(``POST /api/v2/assets/events``), which schedules ``train_<p>`` like the monitor's own alerts.

Every alert has an id (``--id``, else a new one), kept in the event's extra as ``alert_id``. A refused
connection, a timeout or an HTTP 5xx is retried with exponential backoff (``--tries``); before each try the
command looks for an event with that id, so an alert whose answer was lost is not recorded twice, and
running the command again with the same ``--id`` is safe. It prints ``accepted``, ``duplicate`` or ``gave up
after N tries`` with the reason (exit status 0, 0, 1). Training counts an id once (``stages/policy.py``).

Usage: ``python -m mlcycle.tools.alerts flights --reason "p95 latency of the fraud feed doubled"``
(or ``make drift-alert PIPELINE=flights REASON="..."``). See ``--help``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcycle.core import lake
from mlcycle.core.config import ConfigError, load_pipeline
from mlcycle.tools import cli
from mlcycle.tools.airflow_client import AirflowAPIError, AirflowClient, AirflowUnavailable

TRIES = 8  # with the backoff below: about 1.5 minutes of an unreachable Airflow before giving up
BACKOFF_MAX = 30.0


@dataclass(frozen=True)
class Outcome:
    """What became of one alert: ``accepted``, ``duplicate`` (its id was already recorded) or ``gave up``."""

    status: str
    alert_id: str
    tries: int
    seconds: float
    event: dict[str, Any] | None = None
    reason: str = ""

    def line(self) -> str:
        if self.status == "gave up":
            return (f"gave up after {self.tries} tries ({self.seconds:.0f} s): alert {self.alert_id} was not recorded; "
                    f"last error: {self.reason}. Run the same command again: the id makes it safe")
        event = self.event or {}
        if self.status == "duplicate":
            return (f"duplicate: alert {self.alert_id} is already recorded (event {event.get('id')} at "
                    f"{str(event.get('timestamp', '?'))[:19]}); not recorded again")
        return (f"accepted: alert {self.alert_id} recorded on {event.get('uri')} (event {event.get('id')}) "
                f"after {self.tries} {'try' if self.tries == 1 else 'tries'}")


def alert_extra(pipeline: str, reason: str, alert_id: str | None = None, columns: list[str] | None = None,
                share: float | None = None, source: str = "external") -> dict[str, Any]:
    """The event's extra: the alert's id (new unless given), pipeline, source, reason and when."""
    extra: dict[str, Any] = {"alert_id": alert_id or uuid.uuid4().hex, "pipeline": pipeline, "source": source,
                             "reason": reason, "raised_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if columns:
        extra["drifted_columns"] = columns
    if share is not None:
        extra["share"] = share
    return extra


def send_alert(connect: Callable[[], AirflowClient], pipeline: str, extra: dict[str, Any], tries: int = TRIES,
               wait: Any = None) -> Outcome:
    """Record ``extra`` on ``drift.<pipeline>`` unless an event with its ``alert_id`` exists; retry what may pass.

    ``connect`` logs in (again at each try); ``wait`` is a tenacity wait (default: exponential with jitter).
    """
    import tenacity

    uri, alert_id = lake.asset_uri("drift", pipeline), extra["alert_id"]
    started, count = time.monotonic(), [0]

    def attempt() -> tuple[str, dict[str, Any]]:
        count[0] += 1
        client = connect()
        found = client.find_event(uri, "alert_id", alert_id)
        if found:
            return "duplicate", found
        return "accepted", client.create_asset_event(uri, extra)

    retrying = tenacity.Retrying(retry=tenacity.retry_if_exception_type(AirflowUnavailable),
                                 stop=tenacity.stop_after_attempt(tries), reraise=True,
                                 wait=wait or tenacity.wait_exponential_jitter(initial=1, max=BACKOFF_MAX))
    try:
        status, event = retrying(attempt)
    except AirflowUnavailable as exc:
        return Outcome("gave up", alert_id, count[0], time.monotonic() - started, reason=str(exc))
    return Outcome(status, alert_id, count[0], time.monotonic() - started, event)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlcycle.tools.alerts", description=__doc__.split("\n\nUsage")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipeline", help="pipeline name, as in include/pipelines/<name>.yaml")
    parser.add_argument("--reason", required=True, help="why you raise it; recorded on the retraining run")
    parser.add_argument("--columns", default="", help="comma-separated drifted columns, if known")
    parser.add_argument("--share", type=float, help="share of drifted columns, if known")
    parser.add_argument("--id", dest="alert_id", help="the alert's id (default: a new one); the same id is "
                        "recorded once, however often it is sent")
    parser.add_argument("--tries", type=int, default=TRIES, help="tries before giving up (default %(default)s)")
    cli.add_airflow_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        load_pipeline(args.pipeline)
        password = cli.airflow_password(args)
        extra = alert_extra(args.pipeline, args.reason, args.alert_id,
                            [c.strip() for c in args.columns.split(",") if c.strip()], args.share)
        outcome = send_alert(lambda: AirflowClient(args.airflow_url, args.username, password, args.timeout),
                             args.pipeline, extra, args.tries)
    except (ConfigError, AirflowAPIError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(outcome.line(), flush=True)
    if outcome.status == "accepted":
        print(f"train_{args.pipeline} will run unless a drift-triggered training started within the cooldown")
    return 1 if outcome.status == "gave up" else 0


if __name__ == "__main__":
    sys.exit(main())
