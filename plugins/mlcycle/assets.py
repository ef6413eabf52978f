"""The Assets that chain the stages of every pipeline.

raw.<p> -> validated.<p> (lake zones), candidate.<p> -> evaluated.<p> (model versions), and
drift.<p>: raised by the monitor (or an external alert) and consumed by retraining.
"""

from __future__ import annotations

from airflow.sdk import Asset

from mlcycle import settings

KINDS = {"raw": "raw", "validated": "validated", "candidate": "models/candidates", "evaluated": "models/evaluated",
         "drift": "monitoring/drift"}


def pipeline_asset(kind: str, pipeline: str) -> Asset:
    """Asset ``<kind>.<pipeline>``; its URI is the matching folder under the lake root."""
    if kind not in KINDS:
        raise ValueError(f"unknown asset kind '{kind}', expected one of {sorted(KINDS)}")
    return Asset(name=f"{kind}.{pipeline}", uri=f"{settings.lake_uri()}/{KINDS[kind]}/{pipeline}", group="mlcycle")
