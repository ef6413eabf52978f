"""When a landed file is ready (stable, marker, exists): the rules as plain functions, the look at a real
folder, and the landing settings a config may hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from mlcycle.core import landing, storage
from mlcycle.core.landing import LandingConfig, Look

NOW = 1_000_000.0
OLD = Look(size=100, mtime=NOW - 120)
FRESH = Look(size=100, mtime=NOW - 5)
NONE = Look()


@pytest.mark.parametrize(("mode", "previous", "current", "ready"), [
    ("stable", None, OLD, True),  # already old at the first look: a backfill waits for nothing
    ("stable", OLD, OLD, True),
    ("stable", None, FRESH, False),  # written 5 s ago
    ("stable", FRESH, Look(size=100, mtime=NOW - 60), False),  # touched since the previous look
    ("stable", Look(size=90, mtime=NOW - 60), Look(size=100, mtime=NOW - 60), False),  # grew, same second
    ("stable", NONE, OLD, False),  # appeared since the previous look: one more look
    ("stable", None, NONE, False),
    ("exists", None, FRESH, True),
    ("exists", None, NONE, False),
    ("marker", None, OLD, False),
    ("marker", None, Look(size=100, mtime=NOW - 5, marker=True), True),
    ("marker", None, Look(marker=False), False),
], ids=lambda v: repr(v) if isinstance(v, str | bool) else None)
def test_readiness_rules(mode, previous, current, ready):
    assert landing.is_ready(mode, previous, current, NOW, stable_seconds=60) is ready


def test_a_stable_file_is_looked_at_again_when_it_comes_of_age():
    assert landing.next_look_in("stable", FRESH, NOW, stable_seconds=8, poke_seconds=10) == 3  # 5 s old
    assert landing.next_look_in("stable", FRESH, NOW, stable_seconds=60, poke_seconds=10) == 10
    assert landing.next_look_in("stable", OLD, NOW, stable_seconds=60, poke_seconds=10) == 10
    assert landing.next_look_in("stable", NONE, NOW, stable_seconds=60, poke_seconds=10) == 10
    assert landing.next_look_in("marker", FRESH, NOW, stable_seconds=8, poke_seconds=10) == 10


def test_an_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="unknown readiness mode"):
        landing.is_ready("soon", None, OLD, NOW, 60)


def test_auto_is_stable_on_files_and_exists_on_s3():
    assert landing.ready_mode("auto", "file:///landing/a_2013-01-01.csv") == "stable"
    assert landing.ready_mode("auto", "s3://landing/a_2013-01-01.csv") == "exists"
    assert landing.ready_mode("marker", "s3://landing/a_2013-01-01.csv") == "marker"


def test_companion_files_are_named_beside_the_file():
    uri = "s3://landing/sales/2013-01-01/sales_2013-01-01.csv"
    assert landing.companion(uri, "{file}.done") == "s3://landing/sales/2013-01-01/sales_2013-01-01.csv.done"
    assert landing.companion(uri, "{stem}.ok") == "s3://landing/sales/2013-01-01/sales_2013-01-01.ok"
    assert landing.companion(uri, "_SUCCESS") == "s3://landing/sales/2013-01-01/_SUCCESS"


def test_a_look_at_a_real_folder(tmp_path: Path):
    uri = f"file://{tmp_path}/a.csv"
    assert landing.look(uri, f"{uri}.done") == Look()
    (tmp_path / "a.csv").write_bytes(b"x,y\n1,2\n")
    os.utime(tmp_path / "a.csv", (NOW, NOW))
    assert landing.look(uri, f"{uri}.done") == Look(size=8, mtime=NOW, marker=False)
    (tmp_path / "a.csv.done").touch()
    assert landing.look(uri, f"{uri}.done").marker
    assert landing.look(uri).marker is False  # no marker asked for
    assert storage.stat(f"file://{tmp_path}") is None, "a folder is no file"


@pytest.mark.parametrize(("mode", "last", "fragments"), [
    ("stable", None, ["no file arrived at file:///l/a.csv", "within 60 min", "landing.pattern"]),
    ("stable", Look(size=512, mtime=1.0), ["file:///l/a.csv was still changing", "512 bytes", "stable_seconds"]),
    ("marker", Look(size=512, mtime=1.0), ["its marker file:///l/a.csv.done did not", "landing.marker"]),
])
def test_the_timeout_message_names_the_file_and_what_was_seen(mode, last, fragments):
    message = landing.timeout_message("file:///l/a.csv", mode, 60, last, "file:///l/a.csv.done")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(("fields", "fragment"), [
    ({"marker": "done/{file}"}, "no '/'"),
    ({"manifest": "{ds}.json"}, "only the placeholders {file} and {stem}"),
    ({"encoding": "utf-9"}, "unknown encoding 'utf-9'"),
    ({"delimiter": ";", "decimal": ";"}, "three different characters"),
    ({"delimiter": ";;"}, "at most 1 character"),
    ({"ready": "soon"}, "'auto', 'stable', 'marker' or 'exists'"),
    ({"format": "xlsx"}, "'csv' or 'parquet'"),
    ({"max_malformed_share": 1.5}, "less than or equal to 1"),
])
def test_bad_landing_settings_are_refused(fields, fragment):
    with pytest.raises(ValidationError) as refused:
        LandingConfig(pattern="a/a_{ds}.csv", **fields)
    assert fragment in str(refused.value)


def test_landing_defaults_are_todays_behaviour():
    config = LandingConfig(pattern="a/a_{ds}.csv")
    assert (config.ready, config.format, config.delimiter, config.quotechar, config.decimal, config.encoding) == (
        "auto", "csv", ",", '"', ".", "utf-8")
    assert LandingConfig(pattern="a/a_{ds}.csv", manifest=None).manifest is None
