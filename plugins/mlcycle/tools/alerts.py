"""Raise a drift alert from outside Airflow, e.g. from your monitoring system.

It records an event on the pipeline's ``drift.<p>`` Asset through Airflow's REST API
(``POST /api/v2/assets/events``), which schedules ``train_<p>`` like the monitor's own alerts.

Usage: ``python -m mlcycle.tools.alerts flights --reason "p95 latency of the fraud feed doubled"``
(or ``make drift-alert PIPELINE=flights REASON="..."``). See ``--help``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from mlcycle import settings
from mlcycle.core import lake
from mlcycle.core.config import ConfigError, load_pipeline
from mlcycle.tools import runtime
from mlcycle.tools.airflow_client import AirflowAPIError, AirflowClient


def raise_alert(client: AirflowClient, pipeline: str, reason: str, columns: list[str] | None = None,
                share: float | None = None, source: str = "external") -> dict[str, Any]:
    """Post one drift event for ``pipeline``; returns the event Airflow recorded."""
    extra = {"pipeline": pipeline, "source": source, "reason": reason,
             "raised_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if columns:
        extra["drifted_columns"] = columns
    if share is not None:
        extra["share"] = share
    return client.create_asset_event(lake.asset_uri("drift", pipeline), extra)


def _parser() -> argparse.ArgumentParser:
    rt = runtime.Runtime.from_env()
    parser = argparse.ArgumentParser(prog="python -m mlcycle.tools.alerts", description=__doc__.split("\n\nUsage")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipeline", help="pipeline name, as in include/pipelines/<name>.yaml")
    parser.add_argument("--reason", required=True, help="why you raise it; recorded on the retraining run")
    parser.add_argument("--columns", default="", help="comma-separated drifted columns, if known")
    parser.add_argument("--share", type=float, help="share of drifted columns, if known")
    url, username, password = settings.airflow_api(rt.airflow_url)
    parser.add_argument("--airflow-url", default=url,
                        help="Airflow API server (default: $AIRFLOW_URL or the embedded one, %(default)s)")
    parser.add_argument("--username", default=username or runtime.USERNAME)
    parser.add_argument("--password", default=password,
                        help="default: $AIRFLOW_PASSWORD, else the embedded stack's generated password")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        load_pipeline(args.pipeline)
        password = args.password or runtime.Runtime.from_env().password()
        client = AirflowClient(args.airflow_url, args.username, password)
        event = raise_alert(client, args.pipeline, args.reason,
                            [c.strip() for c in args.columns.split(",") if c.strip()], args.share)
    except (ConfigError, AirflowAPIError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"drift alert recorded on {event['uri']} (event {event['id']}); train_{args.pipeline} will run "
          "unless an earlier alert started a training within the cooldown")
    print(json.dumps(event.get("extra", {}), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
