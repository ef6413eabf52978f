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
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from mlcycle import settings
from mlcycle.core import lake, quality, suite_check
from mlcycle.core.catalogue import TaskType
from mlcycle.core.config import NAME_PATTERN, PipelineConfig
from mlcycle.tools.scaffold_profile import ScaffoldError, placeholder, profile, sample_files
from mlcycle.tools.scaffold_render import Window, render_config, render_suite


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class Request:
    """What to scaffold: the name, the sample (a file, a folder or a glob), and what the user decided."""

    name: str
    sample: str | None = None
    task: TaskType | None = None
    label: str | None = None
    date_column: str | None = None
    description: str | None = None
    key: list[str] = field(default_factory=list)
    window: Window = Window()


def _refuse_bad_or_existing(name: str) -> tuple[Path, Path]:
    if not re.match(NAME_PATTERN, name):
        raise ScaffoldError(f"'{name}' is not a valid pipeline name: use 2-40 lower-case letters, digits and '_', "
                            f"starting with a letter (pattern {NAME_PATTERN}), e.g. 'daily_sales'")
    config_path = settings.pipelines_dir() / f"{name}.yaml"
    suite_path = settings.gx_project_dir() / "expectations" / f"{name}.json"
    existing = [str(p) for p in (config_path, suite_path) if p.exists()]
    if existing:
        raise ScaffoldError(f"pipeline '{name}' exists already ({', '.join(existing)}); pick another name, "
                            "or delete those files first")
    return config_path, suite_path


def scaffold(request: Request) -> dict[str, str]:
    """Write the config, the suite and the landing folder of a new pipeline; return where they are.

    Nothing is written unless the config validates, the suite fits it, and GX loads the suite.
    """
    name = request.name
    config_path, suite_path = _refuse_bad_or_existing(name)
    prof = (profile(sample_files(request.sample), request.label, request.date_column, request.task, request.key)
            if request.sample else placeholder(request.task))
    text = render_config(name, prof, request.description or f"EDIT: what {name} predicts ({prof.label}, "
                         f"{prof.task})", request.window)
    try:
        config = PipelineConfig.model_validate(yaml.safe_load(text))
    except Exception as exc:  # a scaffold that breaks every DAG at the next parse must never be written
        raise ScaffoldError(f"the generated config for '{name}' does not validate: {exc}") from exc
    suite = render_suite(name, prof)
    found = suite_check.problems(config, suite)
    if found:
        raise ScaffoldError(f"the generated suite for '{name}' does not fit its config: {'; '.join(found)}")
    _write_atomic(suite_path, json.dumps(suite, indent=2) + "\n")
    try:
        quality.load_suite(name)  # GX's own word on the suite, before any DAG can use it
    except quality.QualityError as exc:
        suite_path.unlink()
        raise ScaffoldError(str(exc)) from exc
    _write_atomic(config_path, text)  # last: the DAGs appear once this file exists
    landing = lake.landing_file(str(PurePosixPath(config.landing.pattern).parent))
    if landing.startswith("file://"):
        Path(landing.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    return {"config": str(config_path), "suite": str(suite_path), "landing": landing,
            "first_file": lake.landing_file(config.landing_path(str(config.schedule.start_date))),
            "dags": ", ".join(f"{stage}_{name}" for stage in config.stages), "drift": prof.drift.note,
            "paused": "paused: unpause them in the Airflow UI" if config.schedule.paused_upon_creation
            else "running"}


EPILOG = f"""\
examples:
  python -m mlcycle.tools.scaffold daily_sales --from-csv ~/exports/ --label revenue --key store,sku
  python -m mlcycle.tools.scaffold daily_sales --from-csv '~/exports/sales_2024-05-*.csv' --start
  make new-pipeline NAME=daily_sales CSV=~/exports/ ARGS="--label revenue"

Profile several days (a folder or a glob): the suite's ranges and the drift thresholds come from them.
The DAGs start paused (unpause them in the Airflow UI, or pass --start). It refuses names that do not
match {NAME_PATTERN} and pipelines that exist already. Files go to $MLCYCLE_PIPELINES_DIR and
$MLCYCLE_GX_DIR/expectations (default include/...), the landing folder under $MLCYCLE_LANDING_URI.
Guide: docs/adding-a-pipeline.md
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlcycle.tools.scaffold", description=__doc__.split("\n\n")[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="pipeline name: lower case, digits and '_' (its DAGs are <stage>_<name>)")
    parser.add_argument("--from-csv", metavar="SAMPLE", help="profile this sample: a CSV file, a folder of daily "
                        "CSVs or a glob (several days give realistic ranges and drift thresholds)")
    parser.add_argument("--label", help="the column to predict (default: the last column of the sample)")
    parser.add_argument("--date-column", help="the column with each row's day (default: the first date column)")
    parser.add_argument("--task", choices=["regression", "classification"],
                        help="default: classification for a 0/1 label, else regression")
    parser.add_argument("--key", default="", help="comma-separated columns that identify a row within a day")
    parser.add_argument("--start-date", type=dt.date.fromisoformat, help="first day (default: the sample's first)")
    parser.add_argument("--end-date", type=dt.date.fromisoformat, help="last day the scheduler runs (default: none)")
    parser.add_argument("--start", action="store_true", help="create the DAGs unpaused (default: paused)")
    parser.add_argument("--description", help="one line: what the model predicts")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    request = Request(args.name, args.from_csv, args.task, args.label, args.date_column, args.description,
                      [c.strip() for c in args.key.split(",") if c.strip()],
                      Window(args.start_date, args.end_date, paused=not args.start))
    try:
        written = scaffold(request)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"""pipeline '{args.name}' scaffolded:
  config       {written['config']}
  GX suite     {written['suite']}
  landing      {written['landing']}/
  DAGs         {written['dags']} (after the next DAG parse, about 30 s; {written['paused']})
  drift        thresholds {written['drift']}
next: check the lines marked EDIT in the config, then land a day, e.g. {written['first_file']}""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
