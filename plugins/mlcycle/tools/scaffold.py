"""Scaffold a new pipeline: a commented config, a starter GX suite and the landing folder.

``python -m mlcycle.tools.scaffold NAME [--from-csv SAMPLE.csv]`` (or ``make new-pipeline NAME=... CSV=...``).
With a sample file the column types, the date column, the label, the features and the expectation suite
(not-null, ranges, value sets, rows per day) come from profiling it; without one you get a placeholder
contract to edit. The DAGs of the new pipeline appear at the next parse: no code change.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from mlcycle import settings
from mlcycle.core import lake
from mlcycle.core.catalogue import TASK_DEFAULTS, TaskType
from mlcycle.core.config import NAME_PATTERN, ConfigError, PipelineConfig

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
    from mlcycle.core.ingest import _cast

    present = values.dropna()
    for kind in TYPE_ORDER:
        if present.empty or _cast(present, kind).notna().all():
            return kind
    return "string"


def profile(path: Path, label: str | None = None, date_column: str | None = None,
            task: TaskType | None = None) -> Profile:
    """Profile a sample CSV: column types, date column, label, task, features and value statistics."""
    import pandas as pd

    from mlcycle.core.ingest import _cast

    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=True)
    except (OSError, ValueError) as exc:
        raise ScaffoldError(f"cannot read the sample {path}: {exc}") from exc
    if raw.empty:
        raise ScaffoldError(f"the sample {path} has no rows; profile a file with data")
    columns = {c: infer_type(raw[c]) for c in raw.columns}
    frame = pd.DataFrame({c: _cast(raw[c], kind) for c, kind in columns.items()})
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


def _q(value: Any) -> str:
    """A YAML scalar or flow sequence: plain names bare, anything else as JSON (which is valid YAML)."""
    if isinstance(value, list):
        return f"[{', '.join(map(_q, value))}]"
    return value if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(value)) else json.dumps(value)


def render_config(name: str, prof: Profile, description: str) -> str:
    """The commented pipeline config; every section says what it controls (see docs/adding-a-pipeline.md)."""
    defaults = TASK_DEFAULTS[prof.task]
    estimator, estimators = defaults.estimator, list(defaults.alternatives)
    metric, threshold = defaults.metric, defaults.threshold
    columns = "\n".join(f"  {_q(c)}: {kind}" for c, kind in prof.columns.items())
    skipped = f"\n  # left out (more than {MAX_CATEGORIES} distinct values, ids?): {_q(prof.skipped)}" if prof.skipped \
        else ""
    return f"""\
# Pipeline "{name}", scaffolded by `python -m mlcycle.tools.scaffold` from {prof.source} on {dt.date.today()}.
# Every field is described in docs/adding-a-pipeline.md. Check the sections marked EDIT.
name: {name}
description: {_q(description)}
owner: ml-platform          # EDIT: the team that answers for this pipeline (DAG owner)
tags: [{name}, {prof.task}]
retries: 2                  # per task; bad data fails at once, without retries

# The data contract: every column of the daily file and its type (int, float, string, bool, date, datetime).
columns:
{columns}
date_column: {_q(prof.date_column)}  # every row must carry the day of its file (YYYY-MM-DD)
label: {_q(prof.label)}
key: []                     # EDIT: columns that identify a row within a day, e.g. [store, sku]; duplicates quarantined

landing:
  pattern: "{name}/{name}_{{ds}}.csv"   # relative to the landing root ($MLCYCLE_LANDING_URI)
  timeout_minutes: 60       # how long wait_for_file waits for the day's file
  poke_seconds: 30

schedule:
  cron: "@daily"            # one ingest run per day
  start_date: {prof.start_date}  # the first day of data
  end_date: null            # set it to stop scheduling after a historical replay
  catchup: false            # true: the scheduler also creates the runs of past days

validation:
  suite: {name}  # include/gx/expectations/{name}.json
  max_quarantine_share: 0.05   # more failing rows than this and the whole batch fails

task: {prof.task}
training:
  numeric_features: {_q(prof.numeric_features)}
  categorical_features: {_q(prof.categorical_features)}{skipped}
  window_days: 14           # validated days up to the end date
  holdout_days: 3           # the most recent of them: never trained on, used by the gate
  estimator: {estimator}
  allowed_estimators: {_q(estimators)}
  params: {{}}                # fixed parameters; those an estimator does not take are ignored
  search:                   # every combination is an MLflow child run; the best on validation wins
    max_depth: [4, 8]
  primary_metric: {metric}

# The Evidently gate. No thresholds = no promotion, ever. EDIT: a starting point, not a business target.
evaluation:
  thresholds:
    {metric}: {threshold}
  max_regression: 0.01      # how much worse than the champion a challenger may be, in the metric's units

# Daily drift and quality checks against the champion's training data (monitor_{name}); defaults shown.
monitoring:
  columns: []               # empty: the model's features
  drift_share: 0.5          # share of drifted columns that raises drift.{name} (and retrains)
  numeric_threshold: 0.1    # Wasserstein distance, in standard deviations of the reference
  categorical_threshold: 0.1   # Jensen-Shannon distance
  quality_drop: 0.05        # or: {metric} this far below the champion's holdout figure; null: ignore quality
  retrain_cron: null        # e.g. "0 3 * * 1" for weekly retraining besides drift
"""


def render_suite(name: str, prof: Profile) -> dict[str, Any]:
    """The starter expectation suite: table-level checks fail a batch, column checks quarantine rows."""
    def expectation(kind: str, **kwargs: Any) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "kwargs": kwargs, "meta": {}, "severity": "critical", "type": kind}

    low, high = prof.rows_per_day
    expectations = [expectation("expect_table_columns_to_match_set", column_set=list(prof.columns)),
                    expectation("expect_table_row_count_to_be_between", min_value=low, max_value=high)]
    expectations += [expectation("expect_column_values_to_not_be_null", column=c) for c in prof.not_null]
    expectations += [expectation("expect_column_values_to_be_between", column=c, min_value=lo, max_value=hi)
                     for c, (lo, hi) in prof.ranges.items()]
    expectations += [expectation("expect_column_values_to_be_in_set", column=c, value_set=values)
                     for c, values in prof.value_sets.items()]
    return {"expectations": expectations, "id": str(uuid.uuid4()), "name": name, "notes": None,
            "meta": {"notes": f"Starter suite of the {name} pipeline, profiled from {prof.source} on "
                              f"{dt.date.today()}: rows per day, not-null, ranges (the sample's plus 10 %) and "
                              "value sets. Table-level expectations fail the batch; column expectations "
                              "quarantine the rows that fail them. Widen or tighten them to your contract."}}


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def scaffold(name: str, sample: Path | None = None, task: TaskType | None = None, label: str | None = None,
             date_column: str | None = None, description: str | None = None) -> dict[str, str]:
    """Write the config, the suite and the landing folder of a new pipeline; return where they are."""
    if not re.match(NAME_PATTERN, name):
        raise ScaffoldError(f"'{name}' is not a valid pipeline name: use 2-40 lower-case letters, digits and '_', "
                            f"starting with a letter (pattern {NAME_PATTERN}), e.g. 'daily_sales'")
    config_path = settings.pipelines_dir() / f"{name}.yaml"
    suite_path = settings.gx_project_dir() / "expectations" / f"{name}.json"
    existing = [str(p) for p in (config_path, suite_path) if p.exists()]
    if existing:
        raise ScaffoldError(f"pipeline '{name}' exists already ({', '.join(existing)}); pick another name, "
                            "or delete those files first")
    prof = profile(sample, label, date_column, task) if sample else placeholder(task)
    text = render_config(name, prof, description or f"EDIT: what {name} predicts ({prof.label}, {prof.task})")
    try:
        config = PipelineConfig.model_validate(yaml.safe_load(text))
    except Exception as exc:  # a scaffold that breaks every DAG at the next parse must never be written
        raise ScaffoldError(f"the generated config for '{name}' does not validate: {exc}") from exc
    _write_atomic(suite_path, json.dumps(render_suite(name, prof), indent=2) + "\n")
    _write_atomic(config_path, text)  # last: the DAGs appear once this file exists
    landing = lake.landing_file(str(PurePosixPath(config.landing.pattern).parent))
    if landing.startswith("file://"):
        Path(landing.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    return {"config": str(config_path), "suite": str(suite_path), "landing": landing,
            "first_file": lake.landing_file(config.landing_path(str(prof.start_date))),
            "dags": ", ".join(f"{stage}_{name}" for stage in config.stages)}


EPILOG = f"""\
examples:
  python -m mlcycle.tools.scaffold daily_sales --from-csv ~/exports/sales_2024-05-01.csv --label revenue
  make new-pipeline NAME=daily_sales CSV=~/exports/sales_2024-05-01.csv ARGS="--label revenue"

It refuses names that do not match {NAME_PATTERN} and pipelines that exist already.
Files go to $MLCYCLE_PIPELINES_DIR and $MLCYCLE_GX_DIR/expectations (default include/...),
the landing folder under $MLCYCLE_LANDING_URI. Guide: docs/adding-a-pipeline.md
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlcycle.tools.scaffold", description=__doc__.split("\n\n")[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="pipeline name: lower case, digits and '_' (its DAGs are <stage>_<name>)")
    parser.add_argument("--from-csv", type=Path, metavar="SAMPLE.csv",
                        help="profile this sample (one day or more) for the columns, types and the GX suite")
    parser.add_argument("--label", help="the column to predict (default: the last column of the sample)")
    parser.add_argument("--date-column", help="the column with each row's day (default: the first date column)")
    parser.add_argument("--task", choices=["regression", "classification"],
                        help="default: classification for a 0/1 label, else regression")
    parser.add_argument("--description", help="one line: what the model predicts")
    args = parser.parse_args(argv)
    try:
        written = scaffold(args.name, args.from_csv, args.task, args.label, args.date_column, args.description)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"""pipeline '{args.name}' scaffolded:
  config       {written['config']}
  GX suite     {written['suite']}
  landing      {written['landing']}/
  DAGs         {written['dags']} (after the next DAG parse, about 30 s)
next: check the lines marked EDIT in the config, then land a day, e.g. {written['first_file']}""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
