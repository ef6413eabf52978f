"""The command lines' shared options: which Airflow to talk to, and as whom."""

from __future__ import annotations

import argparse

from mlcycle import settings
from mlcycle.tools import runtime
from mlcycle.tools.airflow_client import AirflowClient


def add_airflow_arguments(parser: argparse.ArgumentParser, timeout: float = 10) -> None:
    """``--airflow-url``, ``--username``, ``--password`` and ``--timeout``, defaulting to the embedded stack."""
    url, username, password = settings.airflow_api(runtime.Runtime.from_env().airflow_url)
    parser.add_argument("--timeout", type=float, default=timeout, help="seconds per request (default %(default)s)")
    parser.add_argument("--airflow-url", default=url,
                        help="Airflow API server (default: $AIRFLOW_URL or the embedded one, %(default)s)")
    parser.add_argument("--username", default=username or runtime.USERNAME)
    parser.add_argument("--password", default=password,
                        help="default: $AIRFLOW_PASSWORD, else the embedded stack's generated password")


def airflow_password(args: argparse.Namespace) -> str:
    return args.password or runtime.Runtime.from_env().password()


def connect(args: argparse.Namespace) -> AirflowClient:
    """A logged-in client from the options of :func:`add_airflow_arguments`."""
    return AirflowClient(args.airflow_url, args.username, airflow_password(args), args.timeout)
