"""The Assets that chain the stages of every pipeline.

raw.<p> -> validated.<p> (lake zones), candidate.<p> -> evaluated.<p> (model versions), and
drift.<p>: raised by the monitor, the REST API, or a message on the SQS queue
``$MLCYCLE_DRIFT_QUEUE_URL`` (an AssetWatcher run by the triggerer), and consumed by retraining.
"""

from __future__ import annotations

from airflow.sdk import Asset

from mlcycle import settings
from mlcycle.core import lake, object_store


def pipeline_asset(kind: str, pipeline: str) -> Asset:
    """Asset ``<kind>.<pipeline>``; its URI is the matching folder of the lake (:func:`lake.asset_uri`)."""
    uri = lake.asset_uri(kind, pipeline)
    watchers = _drift_watchers(pipeline) if kind == "drift" else []
    return Asset(name=f"{kind}.{pipeline}", uri=uri, group="mlcycle", watchers=watchers)


def _drift_watchers(pipeline: str) -> list:
    """With a drift queue configured, any message on it emits ``drift.<pipeline>`` (body in the event extra)."""
    queue = settings.drift_queue_url(pipeline)
    if not queue:
        return []
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
    from airflow.sdk import AssetWatcher

    trigger = MessageQueueTrigger(scheme="sqs", sqs_queue=queue, aws_conn_id=object_store.conn_id(),
                                  waiter_delay=settings.drift_queue_poll_seconds())
    return [AssetWatcher(name=f"drift_queue_{pipeline}", trigger=trigger)]
