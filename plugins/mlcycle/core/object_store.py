"""S3 access for the lake, the landing zone and the DVC remote, through the amazon provider.

The Airflow connection ``$MLCYCLE_AWS_CONN_ID`` (default ``aws_default``) is the one place that
says how to reach S3: real AWS (keys, role or the instance profile) or MinIO/moto through
``endpoint_url`` in its extra. It is resolved lazily, the first time a task touches an ``s3://``
URI, never at DAG parse time, and then cached for the process.
"""

from __future__ import annotations

import functools
from typing import Any

from mlcycle import settings


def conn_id() -> str:
    return settings.aws_conn_id()


def is_s3(uri: str) -> bool:
    return uri.startswith(("s3://", "s3a://"))


def split(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


@functools.cache
def _settings(conn: str) -> dict[str, Any]:
    """Endpoint, region and credentials of the AWS connection (the provider's resolution chain)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=conn, client_type="s3")
    credentials = hook.get_credentials()
    return {"endpoint_url": hook.conn_config.get_service_endpoint_url("s3"), "region": hook.conn_region_name,
            "key": credentials.access_key, "secret": credentials.secret_key, "token": credentials.token}


def connection() -> dict[str, Any]:
    """What the connection resolves to (cached per process; :func:`reset` forgets it)."""
    return _settings(conn_id())


def reset() -> None:
    _settings.cache_clear()


def fsspec_options() -> dict[str, Any]:
    """Storage options for s3fs. No listing cache: other workers write the same prefixes."""
    conf = connection()
    client_kwargs = {k: v for k, v in (("endpoint_url", conf["endpoint_url"]), ("region_name", conf["region"])) if v}
    return {"key": conf["key"], "secret": conf["secret"], "token": conf["token"], "client_kwargs": client_kwargs,
            "use_listings_cache": False}


def dvc_remote(url: str) -> dict[str, Any]:
    """DVC remote config for ``url``: S3 settings from the connection, kept in memory, never in a file."""
    if not is_s3(url):
        return {"url": url}
    conf = connection()
    remote = {"url": url, "endpointurl": conf["endpoint_url"], "region": conf["region"],
              "access_key_id": conf["key"], "secret_access_key": conf["secret"], "session_token": conf["token"]}
    return {k: v for k, v in remote.items() if v}
