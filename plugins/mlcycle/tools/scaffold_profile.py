"""Profiling a sample CSV for the scaffold: column types, date column, label, task, features and the
statistics its starter expectation suite is built from."""

from __future__ import annotations

import datetime as dt
import glob
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core.catalogue import TaskType
from mlcycle.core.config import ConfigError
from mlcycle.tools.scaffold_drift import FALLBACK, DriftThresholds, measure

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
    key: list[str] = field(default_factory=list)
    drift: DriftThresholds = DriftThresholds(*FALLBACK, "no sample: defaults")


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


def sample_files(pattern: str) -> list[Path]:
    """The sample: one CSV file, every ``*.csv`` of a folder, or the files a glob matches (sorted)."""
    path = Path(pattern).expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
    elif any(ch in pattern for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(str(path)))
    else:
        files = [path]
    if not files:
        raise ScaffoldError(f"no CSV file in {pattern}; give a file, a folder of daily files or a glob")
    return files


def read_sample(files: list[Path]) -> pd.DataFrame:
    """The sample files as one frame of text columns (as ingest reads a landed file)."""
    import pandas as pd

    frames = []
    for path in files:
        try:
            frames.append(pd.read_csv(path, dtype=str, keep_default_na=True))
        except (OSError, ValueError) as exc:
            raise ScaffoldError(f"cannot read the sample {path}: {exc}") from exc
    headers = {tuple(f.columns) for f in frames}
    if len(headers) > 1:
        raise ScaffoldError(f"the sample files do not share one header: {sorted(headers)}")
    raw = pd.concat(frames, ignore_index=True)
    if raw.empty:
        raise ScaffoldError(f"the sample ({files[0]}{' ...' if len(files) > 1 else ''}) has no rows")
    return raw


def _roles(columns: dict[str, str], frame: pd.DataFrame, label: str | None, date_column: str | None,
           task: TaskType | None, source: str) -> tuple[str, str, TaskType]:
    """The date column, the label and the task: given, or guessed from the types."""
    dates = [c for c, kind in columns.items() if kind == "date"]
    date_column = date_column or next(iter(dates), None)
    if date_column not in columns or columns[date_column] != "date":
        raise ScaffoldError(f"no date column in {source}: every row needs its day as YYYY-MM-DD (found "
                            f"{dates or 'none'}). Add one, or name it with --date-column")
    label = label or [c for c in columns if c != date_column][-1]
    if label not in columns or columns[label] not in ("int", "float", "bool"):
        raise ScaffoldError(f"label '{label}' must be a numeric column of {source} (columns: {columns}); "
                            "name it with --label")
    target = frame[label].dropna()
    task = task or ("classification" if columns[label] != "float" and set(target.astype(int)) <= {0, 1}
                    else "regression")
    return date_column, label, task


def _features(columns: dict[str, str], frame: pd.DataFrame, exclude: tuple[str, ...]) -> tuple[list, list, list]:
    numeric, categorical, skipped = [], [], []
    for column, kind in columns.items():
        if column in exclude or kind in ("date", "datetime"):
            continue
        if kind != "string":
            numeric.append(column)
        elif frame[column].nunique() <= MAX_CATEGORIES:
            categorical.append(column)
        else:
            skipped.append(column)
    return numeric, categorical, skipped


def _value_checks(columns: dict[str, str], frame: pd.DataFrame) -> tuple[dict, dict]:
    ranges, value_sets = {}, {}
    for column, kind in columns.items():
        values = frame[column].dropna()
        if kind in ("int", "float") and not values.empty:
            ranges[column] = _widened(float(values.min()), float(values.max()), kind)
        elif kind == "string" and 0 < values.nunique() <= MAX_VALUE_SET:
            value_sets[column] = sorted(values.unique().tolist())
    return ranges, value_sets


def profile(files: list[Path], label: str | None = None, date_column: str | None = None,
            task: TaskType | None = None, key: list[str] | None = None) -> Profile:
    """Profile sample CSVs (one day or many): types, date column, label, task, features, value statistics
    and drift thresholds from the days' own variation."""
    import pandas as pd

    from mlcycle.core.ingest import cast_column

    raw = read_sample(files)
    source = files[0].name if len(files) == 1 else f"{len(files)} files ({files[0].name} ...)"
    columns = {c: infer_type(raw[c]) for c in raw.columns}
    frame = pd.DataFrame({c: cast_column(raw[c], kind) for c, kind in columns.items()})
    date_column, label, task = _roles(columns, frame, label, date_column, task, source)
    unknown = [c for c in key or [] if c not in columns]
    if unknown:
        raise ScaffoldError(f"key columns {unknown} are not in the sample (columns: {list(columns)})")
    numeric, categorical, skipped = _features(columns, frame, (label, date_column))
    if not numeric + categorical:
        raise ScaffoldError(f"{source} has no column to learn from besides the date and the label '{label}'")
    per_day = frame.groupby(frame[date_column].dt.date).size()
    ranges, value_sets = _value_checks(columns, frame)
    if task == "classification":
        ranges.pop(label, None)
        value_sets[label] = [0, 1]
    return Profile(columns=columns, date_column=date_column, label=label, task=task, numeric_features=numeric,
                   categorical_features=categorical, start_date=min(per_day.index), source=source,
                   rows_per_day=(max(1, int(per_day.min()) // 2), int(per_day.max()) * 2),
                   not_null=[c for c in columns if c != date_column and (c == label or raw[c].notna().all())],
                   ranges=ranges, value_sets=value_sets, skipped=skipped, key=list(key or []),
                   drift=measure(frame, date_column, numeric, categorical))


def _widened(low: float, high: float, kind: str) -> tuple[float, float]:
    """The sample's range plus 10 % of its span on each side; never below zero when the sample is not."""
    margin = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    bounds = (max(low - margin, 0.0) if low >= 0 else low - margin, high + margin)
    if kind == "int":
        return float(math.floor(bounds[0])), float(math.ceil(bounds[1]))
    return round(bounds[0], 6), round(bounds[1], 6)


