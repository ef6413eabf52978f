"""Embedded stack: alert bursts (20/50/100), kill -9 to healthy per component, demo wall time; PostgreSQL vs SQLite.

Each database runs a whole stack of its own (``python -m mlcycle.tools.runtime start``, free ports, a
state folder under the benchmark's temporary folder): the default, the embedded PostgreSQL server, and the
baseline, the SQLite opt-in (``MLCYCLE_DATABASE=sqlite``), one after the other in the same run.

* **burst**: N alert commands at once (:func:`mlcycle.tools.alerts.send_alert`, each in its own thread with
  its own login and retries), for N in ``--bursts``: accepted, duplicates, gave up, p50 and p99 latency
  (from the first try to the answer, retries included), and lost, counted from the events Airflow recorded;
* **kill**: ``kill -9`` of each component's process (the supervisor's pid), then the time until every
  component is healthy again (``make status``'s checks; an Airflow job counts only with a heartbeat from
  its new process);
* **demo** (``--demo``): the wall time of ``python -m mlcycle.tools.demo`` on each stack.

Figures, not tests: nothing is asserted. The two stacks never run at once.
"""

from __future__ import annotations

import argparse

from bench._harness.figures import header, machine, say, say_load_at_end
from bench.runtime import measure, report

ORDER = 50
DEFAULT_REPEAT = 1
DATABASES = ("postgres", "sqlite")


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--bursts", default="20,50,100", help="concurrent alerts per burst (default %(default)s)")
    group.add_argument("--demo", action="store_true", help="also time the demo on each stack (about 2 x 7 min)")
    group.add_argument("--databases", default=",".join(DATABASES), help="stacks to measure (default %(default)s)")


def run(ctx) -> None:
    header("runtime: the embedded stack on PostgreSQL (default) vs SQLite (opt-in baseline)")
    say(f"  {machine()}")
    bursts = [int(n) for n in ctx.args.bursts.split(",") if n.strip()]
    results = {}
    for database in [d.strip() for d in ctx.args.databases.split(",") if d.strip()]:
        results[database] = measure.stack_figures(ctx, database, bursts, ctx.args.demo)
    report.bursts(results, bursts)
    report.kills(results)
    if ctx.args.demo:
        report.demos(results)
    say_load_at_end()
