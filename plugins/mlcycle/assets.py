"""The Assets that chain the stages of every pipeline: raw.<p> -> validated.<p>."""

from __future__ import annotations

from airflow.sdk import Asset

from mlcycle import settings

ZONES = ("raw", "validated")


def zone_asset(zone: str, pipeline: str) -> Asset:
    """Asset for one lake zone of one pipeline; its URI is the zone's folder in the lake."""
    if zone not in ZONES:
        raise ValueError(f"unknown zone '{zone}', expected one of {ZONES}")
    return Asset(name=f"{zone}.{pipeline}", uri=f"{settings.lake_uri()}/{zone}/{pipeline}", group="mlcycle")
