"""Scaffold a new pipeline: a commented config, a starter GX suite and the landing folder.

``python -m mlcycle.tools.scaffold NAME [--from-csv SAMPLE.csv]`` (or ``make new-pipeline NAME=... CSV=...``).
With a sample file the column types, the date column, the label, the features and the expectation suite
(not-null, ranges, value sets, rows per day) come from profiling it; without one you get a placeholder
contract to edit. The DAGs of the new pipeline appear at the next parse: no code change.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path, PurePosixPath

import yaml

from mlcycle import settings
from mlcycle.core import lake
from mlcycle.core.catalogue import TaskType
from mlcycle.core.config import NAME_PATTERN, PipelineConfig
from mlcycle.tools.scaffold_profile import ScaffoldError, placeholder, profile
from mlcycle.tools.scaffold_render import render_config, render_suite


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
