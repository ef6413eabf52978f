"""Backfill N days of ingest + validate on the real scheduler (preload on/off) vs a plain script.

* **plain**: one Python process calls ``ingestion.ingest_day`` then ``ingestion.validate_day`` for
  every day, one after the other (the baseline: no orchestration, imports paid once);
* **scheduler, preload off / on**: an embedded stack of its own (:class:`mlcycle.tools.runtime.Runtime`:
  PostgreSQL, Airflow's API server, scheduler with the LocalExecutor, DAG processor, triggerer; no
  MLflow; free ports, a state folder under the benchmark's temporary folder), one ``ingest_flights``
  run with From / To over the N days, ``validate_flights`` following on the ``raw.flights`` events, as
  in production, ``--chunk-days`` days per wait, ingest and validate task (default: the config's
  ``schedule.backfill_chunk_days``). ``preload`` is :func:`mlcycle.tools.stack.task_start_env`: task
  processes inherit the stages' libraries from a forkserver that imported them once; off, each task
  process imports them.

Every path starts from the same landed files (dated an hour back: the sensor takes them at its first
look). The wall time of a stack is from the ingest run's creation to the last task's end. Each task
instance's time is split (medians per task, and sums) into: **scheduled** (until the scheduler queues
it), **queued** (until its process is forked), **start** (task runner start: DAG file parse, Airflow
API calls), **imports** (its heavy libraries), **work** (the stage), **finish** (XCom, Asset events and
state through the API). Timestamps come from the REST API and from the ``task timing:`` line that
:class:`~mlcycle.orchestration.operators.base.PipelineOperator` logs. Figures, never pass or fail.
"""

from __future__ import annotations

import argparse

from bench._harness.figures import header, machine, say, say_load_at_end

ORDER = 25
DEFAULT_REPEAT = 1
VARIANTS = ("off", "on")


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--days", type=int, default=30, help="backfill: days to ingest and validate "
                       "(default %(default)s; 365 for a year)")
    group.add_argument("--first-day", default="2013-01-01", metavar="YYYY-MM-DD",
                       help="backfill: the first day (2013; default %(default)s)")
    group.add_argument("--preload", default=",".join(VARIANTS), metavar="off,on",
                       help="backfill: scheduler variants to run, in this order (default %(default)s)")
    group.add_argument("--skip-plain", action="store_true", help="backfill: no plain-script baseline")
    group.add_argument("--chunk-days", type=int, default=None, metavar="N",
                       help="backfill: days per task instance on the scheduler (the ingest run's Param chunk_days; "
                            "default: the config's schedule.backfill_chunk_days; 1: one task per day)")


def run(ctx) -> None:
    from bench.backfill import report, scheduler

    days = scheduler.day_range(ctx.args.first_day, ctx.args.days)
    variants = [v.strip() for v in ctx.args.preload.split(",") if v.strip()]
    if not set(variants) <= set(VARIANTS):
        raise SystemExit(f"--preload {ctx.args.preload}: list off and/or on, e.g. off,on")
    header(f"backfill: {len(days)} days ({days[0]}..{days[-1]}) of ingest + validate, scheduler "
           f"(preload {', '.join(variants)}) vs plain script")
    say(f"  {machine()}")
    landed = scheduler.land(ctx, days)
    results = {}
    if not ctx.args.skip_plain:
        results["plain"] = scheduler.plain(ctx, days, landed)
    try:
        for variant in variants:
            results[f"preload {variant}"] = scheduler.on_stack(ctx, days, landed, variant == "on")
    finally:  # what was measured is printed, also when a later variant fails
        report.print_all(results, len(days))
    say_load_at_end()
