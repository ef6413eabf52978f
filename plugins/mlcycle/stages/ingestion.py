"""One day of one pipeline, stage by stage, in plain Python (no Airflow).

Operators call these; so do the benchmarks and anyone running a stage by hand. Each step
replaces its outputs for the date it is given, so re-running a day never duplicates anything.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mlcycle.core import ingest, lake, quality, storage, versioning, volume
from mlcycle.core.config import PipelineConfig
from mlcycle.core.landing import companion

log = logging.getLogger(__name__)
REASONS_SHOWN = 5  # the most frequent reasons a quarantine manifest lists, for the UI


def _replace_quarantine(frame, config: PipelineConfig, ds: str, stage: str, **meta: Any) -> str | None:
    uri = lake.quarantine(config.name, ds, stage)
    if frame.empty:
        storage.remove_partition(uri)
        return None
    counts = frame[ingest.REASON_COLUMN].astype(str).value_counts().head(REASONS_SHOWN)
    reasons = {str(reason): int(count) for reason, count in counts.items()}
    storage.write_partition(frame, uri, {"stage": stage, "ds": ds, "reasons": reasons, **meta})
    log.warning("quarantined %d rows of %s %s at %s", len(frame), config.name, ds, uri)
    return uri


def quarantine_file(source_uri: str, config: PipelineConfig, ds: str, reason: str, *more: str) -> str:
    """Keep a copy of a rejected landed file (and of ``more`` files beside it, e.g. its manifest), with the
    reason, under quarantine. The originals stay."""
    uri = lake.quarantine(config.name, ds, "file")
    storage.remove_partition(uri)  # no copy of an earlier attempt's files
    for landed in (source_uri, *more):
        storage.copy(landed, f"{uri}/{landed.rsplit('/', 1)[-1]}")
    storage.write_bytes_atomic(f"{uri}/reason.json", json.dumps({"source": source_uri, "reason": reason}).encode())
    return uri


def _read_landed(config: PipelineConfig, ds: str, source: str) -> tuple[bytes, str | None, bytes | None]:
    """The landed file's bytes, and its producer manifest's URI and bytes (None, None without one)."""
    try:
        data = storage.read_bytes(source)
    except FileNotFoundError as exc:
        raise ingest.IngestError(f"no landed file for {config.name} {ds} at {source}") from exc
    if not config.landing.manifest:
        return data, None, None
    manifest_uri = companion(source, config.landing.manifest)
    try:
        return data, manifest_uri, storage.read_bytes(manifest_uri)
    except FileNotFoundError:
        return data, None, None


def ingest_day(config: PipelineConfig, ds: str, landing: str | None = None) -> dict[str, Any]:
    """Landed file -> typed ``raw`` partition, versioned with DVC. Returns the partition's manifest."""
    source = lake.landing_file(config.landing_path(ds), landing)
    data, manifest_uri, manifest = _read_landed(config, ds, source)
    try:
        kept, rejected, malformed = ingest.ingest_file(data, config, ds, source, manifest, manifest_uri or "")
    except ingest.IngestError as exc:
        where = quarantine_file(source, config, ds, str(exc), *filter(None, [manifest_uri]))
        raise ingest.IngestError(f"{exc} (a copy of the file is quarantined at {where}; the landed file "
                                 "is kept)") from exc
    storage.remove_partition(lake.quarantine(config.name, ds, "file"))
    quarantined = _replace_quarantine(rejected, config, ds, "ingest")
    set_aside = _replace_quarantine(malformed, config, ds, "malformed")
    uri = lake.partition("raw", config.name, ds)
    storage.write_partition(kept, uri, {"ds": ds, "source": source})
    version = versioning.version_file(f"{uri}/{lake.DATA_FILE}", lake.dvc_path(uri))
    log.info("ingested %s %s: %d rows to %s (md5 %s, %d quarantined, %d malformed)",
             config.name, ds, len(kept), uri, version.md5, len(rejected), len(malformed))
    return {"ds": ds, "uri": uri, "rows": len(kept), "md5": version.md5, "dvc_pointer": version.pointer,
            "quarantined_rows": len(rejected), "quarantine_uri": quarantined,
            "malformed_rows": len(malformed), "malformed_uri": set_aside}


def _history(config: PipelineConfig, ds: str) -> list[int]:
    """Row counts (raw) of the validated days before ``ds``, oldest first, as many as the volume check reads."""
    days = [d for d in storage.list_partitions("validated", config.name) if d < ds]
    days = days[-config.validation.volume_window_days:]
    return [storage.read_manifest(lake.partition("raw", config.name, d))["rows"] for d in days]


def _reject_batch(frame, config: PipelineConfig, ds: str, raw_md5: str, error: Exception) -> None:
    """Unpublish the day and keep the whole batch in quarantine with the reason."""
    storage.remove_partition(lake.partition("validated", config.name, ds))  # no stale copy after a failed re-run
    rejected = frame.assign(**{ingest.REASON_COLUMN: f"batch rejected: {error}"})
    storage.write_partition(rejected, lake.quarantine(config.name, ds, "validate"),
                            {"stage": "validate", "ds": ds, "raw_md5": raw_md5, "batch_rejected": True,
                             "reasons": {f"batch rejected: {error}": len(frame)}})


def validate_day(config: PipelineConfig, ds: str, run_name: str | None = None,
                 accept_volume: bool = False) -> dict[str, Any]:
    """``raw`` partition -> volume check and GX validation -> ``validated`` partition plus quarantined rows.

    ``accept_volume`` skips the volume check (a day known to be unusual, accepted by a person)."""
    raw_uri = lake.partition("raw", config.name, ds)
    validated_uri = lake.partition("validated", config.name, ds)
    frame = storage.read_partition(raw_uri)
    raw_md5 = storage.read_manifest(raw_uri)["md5"]
    try:
        normal = None if accept_volume else volume.check(len(frame), _history(config, ds), config, ds)
    except volume.VolumeError as exc:
        _reject_batch(frame, config, ds, raw_md5, exc)
        raise
    report = quality.validate(frame, config.suite_name, run_name or f"{config.name}-{ds}")
    try:
        quality.gate(report, config.validation.max_quarantine_share, f"{config.name} {ds}")
    except quality.QualityError as exc:
        _reject_batch(frame, config, ds, raw_md5, exc)
        raise
    checked = ("accepted by hand" if accept_volume else f"{len(frame)} rows, normal {normal.low:.0f} to "
               f"{normal.high:.0f}" if normal else "not checked: too few validated days before it")
    log.info("%s %s: volume %s", config.name, ds, checked)
    passing, failing = quality.split_failing_rows(frame, report)
    manifest = storage.write_partition(passing, validated_uri,
                                       {"ds": ds, "raw_md5": raw_md5, "gx": report.summary(), "volume": checked})
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
