"""The lake layout: every URI the product writes or reads, in one place.

```
<lake>/raw/<p>/ds=<day>/                    typed landed rows           (DVC-versioned)
<lake>/validated/<p>/ds=<day>/              rows that passed GX
<lake>/quarantine/<p>/ds=<day>/<stage>/     rows or files set aside, with the reason
<lake>/predictions/<p>/ds=<day>/            the champion's batch predictions
<lake>/requests/<p>/ds=<day>/               online requests and predictions: part-*.parquet, one per
                                            flush of a server process; the manifest closes the day
<lake>/training/<p>/md5=<md5>/              content-addressed training snapshots (DVC-versioned)
<lake>/reports/<p>/drift/ds=<day>/          Evidently drift report of a day
<lake>/reports/<p>/drift-online/ds=<day>/   Evidently drift report of a day's online requests
<lake>/reports/<p>/gate/v<version>/         Evidently gate report of a model version
<lake>/reports/<p>/card/v<version>/         model card of a model version (Markdown, JSON)
<landing>/<landing.pattern>                 where producers drop the day's file
```
A partition folder holds :data:`DATA_FILE` and :data:`MANIFEST_FILE`; the manifest is written
last, so a folder without it is not published. Writers, readers, the UI, the demo and the tests
all build these URIs here: moving a zone is a change to this module alone.
"""

from __future__ import annotations

from pathlib import Path

from mlcycle import settings

DATA_FILE = "data.parquet"
MANIFEST_FILE = "_manifest.json"
ZONES = ("raw", "validated", "quarantine", "predictions", "requests", "training", "reports")
ASSET_FOLDERS = {"raw": "raw", "validated": "validated", "candidate": "models/candidates",
                 "evaluated": "models/evaluated", "drift": "monitoring/drift"}
DRIFT_REPORT, GATE_REPORT, MODEL_CARD = "drift_report", "gate_report", "model_card"


def root(lake: str | None = None) -> str:
    """The lake root: ``file://...`` in embedded mode, ``s3://bucket/prefix`` in production."""
    return (lake or settings.lake_uri()).rstrip("/")


def zone(name: str, pipeline: str, lake: str | None = None) -> str:
    """Folder of one pipeline in one zone, e.g. ``<lake>/validated/flights``."""
    if name not in ZONES:
        raise ValueError(f"unknown lake zone '{name}', expected one of {ZONES}")
    return f"{root(lake)}/{name}/{pipeline}"


def partition(name: str, pipeline: str, ds: str, lake: str | None = None) -> str:
    """One daily partition, e.g. ``<lake>/raw/flights/ds=2013-01-01``."""
    return f"{zone(name, pipeline, lake)}/ds={ds}"


def quarantine(pipeline: str, ds: str, stage: str) -> str:
    """What ``stage`` (file, ingest, validate) set aside of one day."""
    return f"{partition('quarantine', pipeline, ds)}/{stage}"


def snapshot(pipeline: str, md5: str) -> str:
    """A training snapshot; content-addressed, so a version's data can never be overwritten."""
    return f"{zone('training', pipeline)}/md5={md5}"


def drift_report(pipeline: str, ds: str) -> str:
    """Folder of a day's drift report (HTML, JSON, manifest)."""
    return f"{zone('reports', pipeline)}/drift/ds={ds}"


def online_drift_report(pipeline: str, ds: str) -> str:
    """Folder of the drift report of a day's online requests."""
    return f"{zone('reports', pipeline)}/drift-online/ds={ds}"


def gate_report(pipeline: str, version: int) -> str:
    """Folder of a model version's gate report (HTML, JSON)."""
    return f"{zone('reports', pipeline)}/gate/v{version}"


def model_card(pipeline: str, version: int) -> str:
    """Folder of a model version's card (``model_card.md``, ``model_card.json``)."""
    return f"{zone('reports', pipeline)}/card/v{version}"


def reports() -> str:
    """Folder holding one sub-folder of reports per pipeline."""
    return f"{root()}/reports"


def quarantined() -> str:
    """Folder holding one sub-folder of quarantined files and rows per pipeline."""
    return f"{root()}/quarantine"


def dvc_path(partition_uri: str) -> str:
    """Where a partition's data file sits in the DVC workspace: its path relative to the lake root."""
    prefix = f"{root()}/"
    if not partition_uri.startswith(prefix):
        raise ValueError(f"{partition_uri} is not inside the lake {root()}")
    return f"{partition_uri.removeprefix(prefix)}/{DATA_FILE}"


def landing_file(relative_path: str, landing: str | None = None) -> str:
    """A landed file: ``relative_path`` (from the pipeline's ``landing.pattern``) under the landing root."""
    return f"{(landing or settings.landing_uri()).rstrip('/')}/{relative_path}"


def asset_uri(kind: str, pipeline: str) -> str:
    """URI of the Asset ``<kind>.<pipeline>`` (the folder it stands for)."""
    if kind not in ASSET_FOLDERS:
        raise ValueError(f"unknown asset kind '{kind}', expected one of {sorted(ASSET_FOLDERS)}")
    return f"{root()}/{ASSET_FOLDERS[kind]}/{pipeline}"


def scratch(pipeline: str, kind: str, key: str) -> Path:
    """Local working folder of a report before it is published to the lake."""
    return settings.state_dir() / "reports" / pipeline / kind / key


def chunks(days: list[str], size: int) -> list[list[str]]:
    """``days`` in order, ``size`` per chunk (the last may be shorter): the work of one task instance each."""
    if size < 1:
        raise ValueError(f"chunk size {size}: give a number of days per task, at least 1")
    return [days[i:i + size] for i in range(0, len(days), size)]
