"""Profiling a sample CSV for the scaffold: column types, date column, label, task, features and the
statistics its starter expectation suite is built from."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core.catalogue import TaskType
from mlcycle.core.config import ConfigError

if TYPE_CHECKING:
    import pandas as pd

# Order matters: the first type that parses every value of a column wins.
TYPE_ORDER = ("int", "float", "date", "datetime", "bool")
MAX_CATEGORIES = 50  # a text column with more distinct values is taken for an id, not a feature
MAX_VALUE_SET = 20  # up to this many distinct values become an expect_column_values_to_be_in_set


class ScaffoldError(ConfigError):
    """The scaffold cannot write this pipeline; the message says why and what to do."""


@dataclass
class Profile:
    """What the scaffold knows of the data: the contract and, with a sample, its statistics."""

    columns: dict[str, str]
    date_column: str
    label: str
    task: TaskType
    numeric_features: list[str]
    categorical_features: list[str]
    start_date: dt.date
    source: str = "placeholder"
    rows_per_day: tuple[int, int] = (1, 1_000_000)
    not_null: list[str] = field(default_factory=list)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    value_sets: dict[str, list[Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def placeholder(task: TaskType | None) -> Profile:
    """A contract to edit, for when there is no sample file yet."""
    task = task or "regression"
    return Profile(columns={"event_date": "date", "store": "string", "price": "float", "units": "int",
                            "target": "float" if task == "regression" else "int"},
                   date_column="event_date", label="target", task=task, numeric_features=["price", "units"],
                   categorical_features=["store"], start_date=dt.date.today(), not_null=["target"],
                   value_sets={"target": [0, 1]} if task == "classification" else {})


def infer_type(values: pd.Series) -> str:
    """The first column type whose parser (the one ingest uses) accepts every value."""
    from mlcycle.core.ingest import cast_column

    present = values.dropna()
    for kind in TYPE_ORDER:
        if present.empty or cast_column(present, kind).notna().all():
            return kind
    return "string"


def profile(path: Path, label: str | None = None, date_column: str | None = None,
            task: TaskType | None = None) -> Profile:
    """Profile a sample CSV: column types, date column, label, task, features and value statistics."""
    import pandas as pd

    from mlcycle.core.ingest import cast_column

    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=True)
    except (OSError, ValueError) as exc:
        raise ScaffoldError(f"cannot read the sample {path}: {exc}") from exc
    if raw.empty:
        raise ScaffoldError(f"the sample {path} has no rows; profile a file with data")
    columns = {c: infer_type(raw[c]) for c in raw.columns}
    frame = pd.DataFrame({c: cast_column(raw[c], kind) for c, kind in columns.items()})
    dates = [c for c, kind in columns.items() if kind == "date"]
    date_column = date_column or next(iter(dates), None)
    if date_column not in columns or columns[date_column] != "date":
        raise ScaffoldError(f"no date column in {path}: every row needs its day as YYYY-MM-DD (found {dates or 'none'}"
                            f"). Add one, or name it with --date-column")
    label = label or [c for c in columns if c != date_column][-1]
    if label not in columns or columns[label] not in ("int", "float", "bool"):
        raise ScaffoldError(f"label '{label}' must be a numeric column of {path} (columns: {columns}); "
                            "name it with --label")
    target = frame[label].dropna()
    task = task or ("classification" if columns[label] != "float" and set(target.astype(int)) <= {0, 1}
                    else "regression")
    numeric, categorical, skipped = [], [], []
    for column, kind in columns.items():
        if column in (label, date_column) or kind in ("date", "datetime"):
            continue
        if kind != "string":
            numeric.append(column)
        elif frame[column].nunique() <= MAX_CATEGORIES:
            categorical.append(column)
        else:
            skipped.append(column)
    if not numeric + categorical:
        raise ScaffoldError(f"{path} has no column to learn from besides the date and the label '{label}'")
    per_day = frame.groupby(frame[date_column].dt.date).size()
    ranges, value_sets = {}, {}
    for column, kind in columns.items():
        values = frame[column].dropna()
        if kind in ("int", "float") and not values.empty:
            ranges[column] = _widened(float(values.min()), float(values.max()), kind)
        elif kind == "string" and 0 < values.nunique() <= MAX_VALUE_SET:
            value_sets[column] = sorted(values.unique().tolist())
    if task == "classification":
        ranges.pop(label, None)
        value_sets[label] = [0, 1]
    return Profile(columns=columns, date_column=date_column, label=label, task=task, numeric_features=numeric,
                   categorical_features=categorical, start_date=min(per_day.index), source=path.name,
                   rows_per_day=(max(1, int(per_day.min()) // 2), int(per_day.max()) * 2),
                   not_null=[c for c in columns if c != date_column and (c == label or raw[c].notna().all())],
                   ranges=ranges, value_sets=value_sets, skipped=skipped)


def _widened(low: float, high: float, kind: str) -> tuple[float, float]:
    """The sample's range plus 10 % of its span on each side; never below zero when the sample is not."""
    margin = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    bounds = (max(low - margin, 0.0) if low >= 0 else low - margin, high + margin)
    if kind == "int":
        return float(math.floor(bounds[0])), float(math.ceil(bounds[1]))
    return round(bounds[0], 6), round(bounds[1], 6)


