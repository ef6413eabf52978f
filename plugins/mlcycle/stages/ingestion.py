"""One day of one pipeline, stage by stage, in plain Python (no Airflow).

Operators call these; so do the benchmarks and anyone running a stage by hand. Each step
replaces its outputs for the date it is given, so re-running a day never duplicates anything.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mlcycle.core import ingest, lake, quality, storage, versioning
from mlcycle.core.config import PipelineConfig

log = logging.getLogger(__name__)


def _replace_quarantine(frame, config: PipelineConfig, ds: str, stage: str, **meta: Any) -> str | None:
    uri = lake.quarantine(config.name, ds, stage)
    if frame.empty:
        storage.remove_partition(uri)
        return None
    storage.write_partition(frame, uri, {"stage": stage, "ds": ds, **meta})
    log.warning("quarantined %d rows of %s %s at %s", len(frame), config.name, ds, uri)
    return uri


def quarantine_file(source_uri: str, config: PipelineConfig, ds: str, reason: str) -> str:
    """Keep a copy of a rejected landed file, with the reason, under quarantine. The original stays."""
    uri = lake.quarantine(config.name, ds, "file")
    storage.copy(source_uri, f"{uri}/{source_uri.rsplit('/', 1)[-1]}")
    storage.write_bytes_atomic(f"{uri}/reason.json", json.dumps({"source": source_uri, "reason": reason}).encode())
    return uri


def ingest_day(config: PipelineConfig, ds: str, landing: str | None = None) -> dict[str, Any]:
    """Landed CSV -> typed ``raw`` partition, versioned with DVC. Returns the partition's manifest."""
    source = lake.landing_file(config.landing_path(ds), landing)
    try:
        data = storage.read_bytes(source)
    except FileNotFoundError as exc:
        raise ingest.IngestError(f"no landed file for {config.name} {ds} at {source}") from exc
    try:
        kept, rejected = ingest.ingest_bytes(data, config, ds, source)
    except ingest.IngestError as exc:
        where = quarantine_file(source, config, ds, str(exc))
        raise ingest.IngestError(f"{exc} (a copy of the file is quarantined at {where}; the landed file "
                                 "is kept)") from exc
    storage.remove_partition(lake.quarantine(config.name, ds, "file"))
    quarantined = _replace_quarantine(rejected, config, ds, "ingest")
    uri = lake.partition("raw", config.name, ds)
    storage.write_partition(kept, uri, {"ds": ds, "source": source})
    version = versioning.version_file(f"{uri}/{lake.DATA_FILE}", lake.dvc_path(uri))
    log.info("ingested %s %s: %d rows to %s (md5 %s, %d quarantined)",
             config.name, ds, len(kept), uri, version.md5, len(rejected))
    return {"ds": ds, "uri": uri, "rows": len(kept), "md5": version.md5, "dvc_pointer": version.pointer,
            "quarantined_rows": len(rejected), "quarantine_uri": quarantined}


def validate_day(config: PipelineConfig, ds: str, run_name: str | None = None) -> dict[str, Any]:
    """``raw`` partition -> GX validation -> ``validated`` partition plus quarantined rows."""
    raw_uri = lake.partition("raw", config.name, ds)
    validated_uri = lake.partition("validated", config.name, ds)
    frame = storage.read_partition(raw_uri)
    raw_md5 = storage.read_manifest(raw_uri)["md5"]
    report = quality.validate(frame, config.suite_name, run_name or f"{config.name}-{ds}")
    try:
        quality.gate(report, config.validation.max_quarantine_share, f"{config.name} {ds}")
    except quality.QualityError as exc:
        storage.remove_partition(validated_uri)  # a stale copy must not outlive a failed re-run
        rejected = frame.assign(**{ingest.REASON_COLUMN: f"batch rejected: {exc}"})
        storage.write_partition(rejected, lake.quarantine(config.name, ds, "validate"),
                                {"stage": "validate", "ds": ds, "raw_md5": raw_md5, "batch_rejected": True})
        raise
    passing, failing = quality.split_failing_rows(frame, report)
    manifest = storage.write_partition(passing, validated_uri,
                                       {"ds": ds, "raw_md5": raw_md5, "gx": report.summary()})
    quarantined = _replace_quarantine(failing, config, ds, "validate", raw_md5=raw_md5)
    return {"ds": ds, "uri": validated_uri, "rows": len(passing), "md5": manifest["md5"], "raw_md5": raw_md5,
            "quarantined_rows": len(failing), "quarantine_uri": quarantined, "docs_url": report.docs_url,
            "failed_expectations": report.failed_expectations}


def _outcome_md5(uri: str, batch_rejected: bool = False) -> str | None:
    """The raw md5 an outcome (validated partition, or rejected batch) was made from."""
    try:
        manifest = storage.read_manifest(uri)
    except storage.PartitionNotFound:
        return None
    return manifest.get("raw_md5") if manifest.get("batch_rejected", False) == batch_rejected else None


def pending_validation(config: PipelineConfig) -> list[str]:
    """Raw partitions whose current content has neither been published nor rejected by validation.

    Asset events can be missed (two producers finishing while a consumer run is being created),
    so the validate DAG reconciles against the lake instead of trusting events alone.
    """
    pending = []
    for ds in storage.list_partitions("raw", config.name):
        raw_md5 = storage.read_manifest(lake.partition("raw", config.name, ds))["md5"]
        validated = _outcome_md5(lake.partition("validated", config.name, ds))
        rejected = _outcome_md5(lake.quarantine(config.name, ds, "validate"), batch_rejected=True)
        if raw_md5 not in (validated, rejected):
            pending.append(ds)
    return pending
