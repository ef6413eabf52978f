"""One day of one pipeline, stage by stage, in plain Python (no Airflow).

Operators call these; so do the benchmarks and anyone running a stage by hand. Each step
replaces its outputs for the date it is given, so re-running a day never duplicates anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from mlcycle.core import ingest, lake, quality, storage, versioning, volume
from mlcycle.core.config import PipelineConfig
from mlcycle.core.landing import companion
from mlcycle.errors import DataError

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


@dataclass
class Chunk:
    """What a run of a stage did to a chunk of days: each published day's result (in day order), which of
    them an earlier try of the same run had published already (not done again), and the days refused for
    bad data."""

    done: list[dict[str, Any]] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    failed: dict[str, DataError] = field(default_factory=dict)

    def raise_failures(self) -> None:
        """Raise for the refused days (none: nothing happens): a lone day's own error, else one naming each."""
        if not self.failed:
            return
        if len(self.failed) == 1 and not (self.done or self.resumed):
            raise next(iter(self.failed.values()))
        raise ChunkRefused(f"{len(self.failed)} of {len(self.failed) + len(self.done)} days refused, the others are "
                           "published: " + "; ".join(f"{ds}: {type(exc).__name__}: {exc}"
                                                     for ds, exc in sorted(self.failed.items())))


class ChunkRefused(DataError):
    """Some days of a chunk were refused for bad data (each named with its reason); the others are published."""


def _published_by(uri: str, run_id: str | None, **expected: Any) -> dict[str, Any] | None:
    """The manifest at ``uri`` when run ``run_id`` wrote it from the same input (``expected``), else None."""
    if run_id is None:
        return None
    try:
        manifest = storage.read_manifest(uri)
    except storage.PartitionNotFound:
        return None
    same = manifest.get("run") == run_id and all(manifest.get(k) == v for k, v in expected.items())
    return manifest if same else None


def _ingest_partition(config: PipelineConfig, ds: str, landing: str | None, run_id: str | None) -> dict[str, Any]:
    """Landed file -> typed ``raw`` partition (not yet versioned); a partition this run already wrote from the
    same landed bytes (a retry) is kept as it is."""
    source = lake.landing_file(config.landing_path(ds), landing)
    data, manifest_uri, manifest = _read_landed(config, ds, source)
    uri, landed_md5 = lake.partition("raw", config.name, ds), hashlib.md5(data).hexdigest()
    if earlier := _published_by(uri, run_id, landed_md5=landed_md5, source=source):
        log.info("%s %s: raw partition already written by this run (%s) from the same file: kept", config.name, ds,
                 run_id)
        return {"ds": ds, "uri": uri, "rows": earlier["rows"], "resumed": True,
                **{k: earlier.get(k) for k in _INGEST_COUNTS}}
    try:
        kept, rejected, malformed = ingest.ingest_file(data, config, ds, source, manifest, manifest_uri or "")
    except ingest.IngestError as exc:
        where = quarantine_file(source, config, ds, str(exc), *filter(None, [manifest_uri]))
        raise ingest.IngestError(f"{exc} (a copy of the file is quarantined at {where}; the landed file "
                                 "is kept)") from exc
    storage.remove_partition(lake.quarantine(config.name, ds, "file"))
    counts = {"quarantined_rows": len(rejected), "quarantine_uri": _replace_quarantine(rejected, config, ds, "ingest"),
              "malformed_rows": len(malformed),
              "malformed_uri": _replace_quarantine(malformed, config, ds, "malformed")}
    storage.write_partition(kept, uri, {"ds": ds, "source": source, "landed_md5": landed_md5, **counts,
                                        **({"run": run_id} if run_id else {})})
    return {"ds": ds, "uri": uri, "rows": len(kept), **counts}


_INGEST_COUNTS = ("quarantined_rows", "quarantine_uri", "malformed_rows", "malformed_uri")


def ingest_days(config: PipelineConfig, days: list[str], landing: str | None = None,
                run_id: str | None = None) -> Chunk:
    """Each day's landed file -> typed ``raw`` partition, then one DVC add + push for them all.

    A day with a bad file is quarantined and refused (:attr:`Chunk.failed`); the other days go on. With
    ``run_id`` (an Airflow run), a day whose partition that run already wrote from the same landed bytes is
    kept (a retry after a failure or a kill mid-chunk redoes only the missing days); DVC versions every day
    again, which changes nothing for a file it already holds."""
    chunk, written = Chunk(), []
    for ds in days:
        try:
            written.append(_ingest_partition(config, ds, landing, run_id))
        except DataError as exc:
            chunk.failed[ds] = exc
    files = [(f"{r['uri']}/{lake.DATA_FILE}", lake.dvc_path(r["uri"])) for r in written]
    for result, version in zip(written, versioning.version_files(files) if files else [], strict=True):
        if result.pop("resumed", False):
            chunk.resumed.append(result["ds"])
        log.info("ingested %s %s: %d rows to %s (md5 %s, %d quarantined, %d malformed)", config.name, result["ds"],
                 result["rows"], result["uri"], version.md5, result["quarantined_rows"], result["malformed_rows"])
        chunk.done.append({**result, "md5": version.md5, "dvc_pointer": version.pointer})
    return chunk


def ingest_day(config: PipelineConfig, ds: str, landing: str | None = None) -> dict[str, Any]:
    """Landed file -> typed ``raw`` partition, versioned with DVC. Returns the partition's manifest."""
    chunk = ingest_days(config, [ds], landing)
    chunk.raise_failures()
    return chunk.done[0]


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


def validate_days(config: PipelineConfig, days: list[str], run_id: str | None = None,
                  accept_volume: bool = False) -> Chunk:
    """:func:`validate_day` for each day, in order; a day refused for bad data does not stop the others.

    With ``run_id`` (an Airflow run), a day that run already published from the current ``raw`` content (a
    retry after a failure or a kill mid-chunk) is kept as it is."""
    chunk = Chunk()
    for ds in days:
        raw_md5 = storage.read_manifest(lake.partition("raw", config.name, ds))["md5"]
        if earlier := _published_by(lake.partition("validated", config.name, ds), run_id, raw_md5=raw_md5):
            log.info("%s %s: already validated by this run (%s) from the same raw data: kept", config.name, ds, run_id)
            chunk.resumed.append(ds)
            chunk.done.append({"ds": ds, "uri": earlier["uri"], "rows": earlier["rows"], "md5": earlier["md5"],
                               "raw_md5": raw_md5, **earlier.get("outcome", {})})
            continue
        try:
            chunk.done.append(validate_day(config, ds, f"{config.name}-{ds}-{run_id or 'local'}", accept_volume,
                                           run_id=run_id))
        except DataError as exc:
            chunk.failed[ds] = exc
    return chunk


def validate_day(config: PipelineConfig, ds: str, run_name: str | None = None,
                 accept_volume: bool = False, run_id: str | None = None) -> dict[str, Any]:
    """``raw`` partition -> volume check and GX validation -> ``validated`` partition plus quarantined rows.

    ``accept_volume`` skips the volume check (a day known to be unusual, accepted by a person); ``run_id``
    is recorded in the manifest (see :func:`validate_days`)."""
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
    quarantined = _replace_quarantine(failing, config, ds, "validate", raw_md5=raw_md5)
    outcome = {"quarantined_rows": len(failing), "quarantine_uri": quarantined, "docs_url": report.docs_url,
               "failed_expectations": report.failed_expectations}
    manifest = storage.write_partition(passing, validated_uri,
                                       {"ds": ds, "raw_md5": raw_md5, "gx": report.summary(), "volume": checked,
                                        "outcome": outcome, **({"run": run_id} if run_id else {})})
    return {"ds": ds, "uri": validated_uri, "rows": len(passing), "md5": manifest["md5"], "raw_md5": raw_md5,
            **outcome}


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
