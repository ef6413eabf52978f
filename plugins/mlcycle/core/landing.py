"""The landing contract: where a day's file arrives, when it is ready to read, and how it is written.

Readiness (``landing.ready``) is decided by plain functions over what one look at the landing zone
sees (:class:`Look`), so the sensor, its trigger and the tests share one rule:

- ``stable``: the file's modification time is at least ``stable_seconds`` old, and its size and
  modification time are those of the previous look. A file that is already old is ready at the first
  look (a backfill of landed days waits for nothing). The default on ``file://``;
- ``marker``: a companion file (``landing.marker``, e.g. ``{file}.done`` or ``_SUCCESS``) exists
  beside the file; the producer writes it once the file is complete;
- ``exists``: the file exists. For stores where an object appears whole (S3): the default on ``s3://``.
"""

from __future__ import annotations

import codecs
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlcycle.core import object_store, storage

ReadyMode = Literal["auto", "stable", "marker", "exists"]
FileFormat = Literal["csv", "parquet"]


def _companion_name(value: str | None) -> str | None:
    """A file name beside the landed file: ``{file}`` (its name) and ``{stem}`` (without extension) only."""
    if value is None:
        return None
    if not value or "/" in value or value in (".", ".."):
        raise ValueError("must be a file name beside the landed file (no '/'), e.g. '{file}.done' or '_SUCCESS'")
    try:
        value.format(file="f.csv", stem="f")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"only the placeholders {{file}} and {{stem}} are allowed, found {exc}") from exc
    return value


class LandingConfig(BaseModel):
    """Where the daily file arrives (relative to the landing root), when it is ready, and its format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(description="Relative path of the daily file; must contain '{ds}'.")
    timeout_minutes: int = Field(60, ge=1, description="How long the sensor waits for the file.")
    poke_seconds: int = Field(30, ge=1, description="How often the sensor looks.")
    ready: ReadyMode = Field("auto", description="When the file is ready: stable, marker, exists; auto: stable "
                                                 "on file://, exists on s3://.")
    stable_seconds: int = Field(60, ge=1, description="stable: how old the last change must be.")
    marker: str = Field("{file}.done", description="marker: the companion file that says the file is complete.")
    manifest: str | None = Field("{file}.manifest.json", description="The producer manifest checked when present.")
    format: FileFormat = "csv"
    delimiter: str = Field(",", min_length=1, max_length=1)
    quotechar: str = Field('"', min_length=1, max_length=1)
    decimal: str = Field(".", min_length=1, max_length=1)
    encoding: str = "utf-8"
    max_malformed_share: float = Field(0.01, ge=0, le=1, description="Above this share of rows with the wrong "
                                                                     "number of fields the file is refused.")

    @field_validator("pattern")
    @classmethod
    def _inside_landing_root(cls, value: str) -> str:
        path = PurePosixPath(value)
        if "{ds}" not in value:
            raise ValueError("must contain '{ds}' so each day has its own file")
        if path.is_absolute() or "://" in value or ".." in path.parts:
            raise ValueError(
                "must be a relative path inside the landing root (no leading '/', no '..', no scheme)"
            )
        try:
            value.format(ds="2000-01-01", pipeline="p")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only the placeholders {{ds}} and {{pipeline}} are allowed, found {exc}") from exc
        return value

    @field_validator("marker", "manifest")
    @classmethod
    def _beside_the_file(cls, value: str | None) -> str | None:
        return _companion_name(value)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding '{value}' (e.g. utf-8, latin-1, cp1252, utf-16)") from exc
        return value

    @model_validator(mode="after")
    def _distinct_marks(self) -> LandingConfig:
        if len({self.delimiter, self.quotechar, self.decimal}) < 3:
            raise ValueError("delimiter, quotechar and decimal must be three different characters")
        return self


def ready_mode(configured: str, uri: str) -> str:
    """The readiness mode of ``uri``: the configured one, or for ``auto`` exists on S3 and stable elsewhere."""
    if configured != "auto":
        return configured
    return "exists" if object_store.is_s3(uri) else "stable"


def companion(uri: str, name: str) -> str:
    """URI of the file ``name`` (``{file}``, ``{stem}`` filled in) in the folder of the landed file ``uri``."""
    folder, _, file = uri.rpartition("/")
    return f"{folder}/{name.format(file=file, stem=file.rsplit('.', 1)[0])}"


@dataclass(frozen=True)
class Look:
    """What one look at the landing zone saw: the file's size and modification time (None: no file),
    and whether the marker exists."""

    size: int | None = None
    mtime: float | None = None
    marker: bool = False


def look(uri: str, marker_uri: str | None = None) -> Look:
    """Look at the landed file (and its marker, when there is one). Blocking I/O: triggers run it in a thread."""
    found = storage.stat(uri)
    size, mtime = found if found else (None, None)
    return Look(size, mtime, bool(marker_uri) and size is not None and storage.exists(marker_uri))


def is_ready(mode: str, previous: Look | None, current: Look, now: float, stable_seconds: float) -> bool:
    """Whether the file may be read now. ``previous`` is the look before (None at the first look)."""
    if current.size is None:
        return False
    if mode == "exists":
        return True
    if mode == "marker":
        return current.marker
    if mode != "stable":
        raise ValueError(f"unknown readiness mode '{mode}', expected stable, marker or exists")
    unchanged = previous is None or (previous.size, previous.mtime) == (current.size, current.mtime)
    return unchanged and now - (current.mtime or now) >= stable_seconds


def next_look_in(mode: str, current: Look, now: float, stable_seconds: float, poke_seconds: float) -> float:
    """Seconds until the next look: ``poke_seconds``, or less when a ``stable`` file comes of age sooner."""
    coming_of_age = current.mtime + stable_seconds - now if mode == "stable" and current.mtime is not None else 0
    return max(0.5, min(poke_seconds, coming_of_age)) if coming_of_age > 0 else poke_seconds


def timeout_message(uri: str, mode: str, minutes: float, last: Look | None, marker_uri: str | None = None) -> str:
    """Why the wait for ``uri`` gave up: which file, and what the last look saw."""
    waited = f"within {minutes:g} min (landing.timeout_minutes)"
    if last is None or last.size is None:
        return (f"no file arrived at {uri} {waited}: the producer has not delivered the day. Check with the "
                "producer, and that landing.pattern names the file it writes; re-run the day once it has landed")
    if mode == "marker":
        return (f"{uri} arrived but its marker {marker_uri} did not {waited}: the producer writes the marker when "
                "the file is complete; check with the producer, or that landing.marker names its marker")
    age = time.time() - (last.mtime or time.time())
    return (f"{uri} was still changing {waited} ({last.size} bytes, last modified {age:.0f} s ago; stable means "
            f"unchanged for landing.stable_seconds): the producer may still be writing it, or stopped half way. "
            "Re-run the day once the file is complete")
