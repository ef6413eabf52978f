"""The files the scaffold writes: the commented pipeline config and the starter expectation suite."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from mlcycle.core.catalogue import TASK_DEFAULTS
from mlcycle.tools.scaffold_profile import MAX_CATEGORIES, Profile


@dataclass(frozen=True)
class Window:
    """When the new pipeline's DAGs run: its first and last day, and whether they start paused."""

    start_date: dt.date | None = None
    end_date: dt.date | None = None
    paused: bool = True


def _q(value: Any) -> str:
    """A YAML scalar or flow sequence: plain names bare, anything else as JSON (which is valid YAML)."""
    if isinstance(value, list):
        return f"[{', '.join(map(_q, value))}]"
    return value if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(value)) else json.dumps(value)


def render_config(name: str, prof: Profile, description: str, schedule: Window | None = None) -> str:
    """The commented pipeline config; every section says what it controls (see docs/adding-a-pipeline.md)."""
    window = schedule or Window()
    key_note = ("duplicates of it are quarantined (the suite checks it)" if prof.key
                else "EDIT: columns that identify a row within a day, e.g. [store, sku]")
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
key: {_q(prof.key)}  # {key_note}

landing:
  pattern: "{name}/{name}_{{ds}}.csv"   # relative to the landing root ($MLCYCLE_LANDING_URI)
  timeout_minutes: 60       # how long wait_for_file waits for the day's file
  poke_seconds: 30
  ready: auto               # EDIT: file://: stable (unchanged for stable_seconds); s3://: exists; or marker
  stable_seconds: 60        # longer than the longest pause of a producer writing the file in place

schedule:
  cron: "@daily"            # one ingest run per day
  start_date: {window.start_date or prof.start_date}  # the first day of data
  end_date: {window.end_date or "null"}  # the last day the scheduler runs (a historical replay); later days are refused
  catchup: false            # true: the scheduler also creates the runs of past days
  paused_upon_creation: {str(window.paused).lower()}  # the DAGs wait until you unpause them in the UI

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

# Daily drift and quality checks against the champion's training data (monitor_{name}).
# The two thresholds: {prof.drift.note}.
monitoring:
  columns: []               # empty: the model's features
  drift_share: 0.5          # share of drifted columns that raises drift.{name} (and retrains)
  numeric_threshold: {prof.drift.numeric}    # Wasserstein distance, in standard deviations of the reference
  categorical_threshold: {prof.drift.categorical}   # Jensen-Shannon distance
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
    if len(prof.key) == 1:  # GX refuses a compound expectation of one column
        expectations.append(expectation("expect_column_values_to_be_unique", column=prof.key[0]))
    elif prof.key:
        expectations.append(expectation("expect_compound_columns_to_be_unique", column_list=prof.key))
    expectations += [expectation("expect_column_values_to_be_between", column=c, min_value=lo, max_value=hi)
                     for c, (lo, hi) in prof.ranges.items()]
    expectations += [expectation("expect_column_values_to_be_in_set", column=c, value_set=values)
                     for c, values in prof.value_sets.items()]
    return {"expectations": expectations, "id": str(uuid.uuid4()), "name": name, "notes": None,
            "meta": {"notes": f"Starter suite of the {name} pipeline, profiled from {prof.source} on "
                              f"{dt.date.today()}: rows per day, not-null, ranges (the sample's plus 10 %) and "
                              "value sets. Table-level expectations fail the batch; column expectations "
                              "quarantine the rows that fail them. Widen or tighten them to your contract."}}


