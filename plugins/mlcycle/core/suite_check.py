"""Does a pipeline's expectation suite fit its config? Checked from the suite's JSON, without GX.

The DAG factory runs this at parse time (GX is too heavy to import there), so a suite that names a
column the config does not have, or a uniqueness expectation that does not fit the key, is an import
error with the file and the fix, not a red validate task hours later. :func:`mlcycle.core.quality.load_suite`
loads the suite with GX itself, for the integrity tests and the scaffold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlcycle import settings
from mlcycle.core.config import ConfigError, PipelineConfig

COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
SINGLE_UNIQUE = "expect_column_values_to_be_unique"
COLUMN_SET = "expect_table_columns_to_match_set"
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_LIST_KWARGS = ("column_list", "column_set")


def suite_path(config: PipelineConfig) -> Path:
    return settings.gx_project_dir() / "expectations" / f"{config.suite_name}.json"


def read_suite(config: PipelineConfig) -> dict[str, Any]:
    """The suite's JSON; a missing or unreadable file is a :class:`ConfigError` naming it."""
    path = suite_path(config)
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{config.name}: no expectation suite at {path}; write one (make new-pipeline writes a "
                          "starter) or set validation.suite") from exc
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise ConfigError(f"{path} is no expectation suite: it needs a list of 'expectations'")
    return suite


def _columns_named(kwargs: dict[str, Any]) -> list[str]:
    named = [kwargs[k] for k in _COLUMN_KWARGS if isinstance(kwargs.get(k), str)]
    for key in _LIST_KWARGS:
        named += [c for c in kwargs.get(key) or [] if isinstance(c, str)]
    return named


def problems(config: PipelineConfig, suite: dict[str, Any]) -> list[str]:
    """What in ``suite`` does not fit ``config`` (empty: it fits)."""
    found = []
    for number, expectation in enumerate(suite["expectations"], start=1):
        kind, kwargs = expectation.get("type", "?"), expectation.get("kwargs") or {}
        where = f"expectation {number} ({kind})"
        unknown = [c for c in _columns_named(kwargs) if c not in config.columns]
        if unknown:
            found.append(f"{where} names columns {unknown} that are not under 'columns' of the config")
        if kind == COMPOUND_UNIQUE and len(kwargs.get("column_list") or []) < 2:
            found.append(f"{where} needs at least two columns; for a one-column key use "
                         f"{SINGLE_UNIQUE} with column: {(kwargs.get('column_list') or ['?'])[0]}")
        if kind == COLUMN_SET and set(kwargs.get("column_set") or []) != set(config.columns):
            found.append(f"{where} lists {sorted(kwargs.get('column_set') or [])}, the config's columns are "
                         f"{sorted(config.columns)}")
    return found


def check(config: PipelineConfig) -> None:
    """Raise :class:`ConfigError` when the suite is missing, unreadable or does not fit the config."""
    found = problems(config, read_suite(config))
    if found:
        raise ConfigError(f"{suite_path(config)} does not fit {settings.pipelines_dir() / config.name}.yaml: "
                          + "; ".join(found))
