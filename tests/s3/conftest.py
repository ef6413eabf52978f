"""S3 mode against a real S3-compatible server on loopback: moto in server mode, on a free port.

The ``aws_default`` connection (``AIRFLOW_CONN_AWS_DEFAULT``, as in compose) points at it through
``endpoint_url`` in its extra; everything else reaches S3 only through that connection.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlcycle.tools import stack

BUCKETS = ["lake", "landing", "dvc", "mlflow"]
KEY, SECRET, REGION = "testing", "testing", "us-east-1"


@dataclass
class Moto:
    url: str
    connection: str  # AIRFLOW_CONN_AWS_DEFAULT

    def client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.url, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                            region_name=REGION)


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """``python -m moto.server`` on a free port, with the buckets; the AWS connection points at it."""
    from mlcycle.core import object_store

    port = stack.free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        try:
            stack.poll_until(lambda: stack.http_ok(f"{url}/moto-api/"), 120, "moto server", interval=0.3,
                             still_alive=lambda: None if process.poll() is None else "exited")
        except stack.NotReady as exc:
            pytest.fail(f"{exc}:\n{log.read_text()[-3000:]}")
        connection = json.dumps({"conn_type": "aws", "login": KEY, "password": SECRET,
                                 "extra": {"endpoint_url": url, "region_name": REGION}})
        server = Moto(url, connection)
        s3 = server.client("s3")
        for bucket in BUCKETS:
            s3.create_bucket(Bucket=bucket)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AIRFLOW_CONN_AWS_DEFAULT", connection)
            object_store.reset()
            yield server
        object_store.reset()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def mlflow_s3(moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` whose artifacts go to ``s3://mlflow/`` on moto (proxied, as in compose)."""
    from integration.conftest import launch_mlflow

    server = launch_mlflow(tmp_path_factory.mktemp("mlflow-s3"), "s3://mlflow/artifacts", {
        "MLFLOW_S3_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": REGION})
    try:
        yield server  # not waited for yet: the caller overlaps start-up with its own work
    finally:
        server.stop()


def s3_settings(patch: pytest.MonkeyPatch, home: Path, pipelines: Path | None = None) -> None:
    """Point lake, landing and DVC remote at the moto buckets (the DVC workspace stays local)."""
    patch.setenv("MLCYCLE_HOME", str(home))
    patch.setenv("MLCYCLE_LAKE_URI", "s3://lake/mlcycle")
    patch.setenv("MLCYCLE_LANDING_URI", "s3://landing")
    patch.setenv("MLCYCLE_DVC_REMOTE", "s3://dvc/remote")
    patch.delenv("MLCYCLE_DVC_REPO", raising=False)
    if pipelines:
        patch.setenv("MLCYCLE_PIPELINES_DIR", str(pipelines))
