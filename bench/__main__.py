"""Command line: ``python -m bench [BENCHMARK ...] [options]`` (``make bench`` runs them all)."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time

import bench
from bench._harness.env import Context, cleanup, isolate
from bench._harness.figures import say
from bench._harness.workers import BenchError


def _parser(benchmarks: dict) -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<16} {bench.summary(module)}" for name, module in benchmarks.items())
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent("""\
            Benchmarks of the mlcycle pipeline. Each prints its figures next to a baseline measured
            in the same run, and ratios to it; none asserts on wall-clock time.

            Everything runs in a new temporary folder (MLCYCLE_HOME, AIRFLOW_HOME, a SQLite Airflow
            DB, DVC and GX state): the demo's .state folder and servers are never touched. Airflow,
            pandas, GX and DVC load only in worker subprocesses, after that environment is set.
            """),
        epilog=f"benchmarks (run in this order):\n{listing}\n\n"
               "examples:\n"
               "  make bench                                 # all of them\n"
               "  PYTHONPATH=plugins .venv/bin/python -m bench parse\n"
               "  python -m bench parse --repeat 10 --dagbag\n"
               "  python -m bench ingest_validate --ds 2013-03-15 --repeat 2 --keep\n\n"
               "Add a benchmark by adding a module bench/<name>.py (or a package bench/<name>/) with run(ctx); "
               "see bench/__init__.py.",
    )
    parser.add_argument("names", nargs="*", metavar="BENCHMARK",
                        help="benchmarks to run (default: all); '-' and '_' are interchangeable")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="repetitions per measurement (default: each benchmark's own: "
                             + ", ".join(f"{n} {getattr(m, 'DEFAULT_REPEAT', 1)}" for n, m in benchmarks.items())
                             + ")")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (logs, lake, Airflow DB) instead of deleting it")
    parser.add_argument("--timeout", type=float, default=600, metavar="SECONDS",
                        help="kill a worker that runs longer than this (hang guard, not a threshold; "
                             "default %(default)s)")
    for name, module in benchmarks.items():
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser.add_argument_group(f"{name} options"))
    return parser


def main(argv: list[str] | None = None) -> int:
    benchmarks = bench.discover()
    parser = _parser(benchmarks)
    args = parser.parse_args(argv)
    if args.list:
        for name, module in benchmarks.items():
            print(f"{name:<16} {bench.summary(module)}")
        return 0
    names = [n.replace("-", "_") for n in args.names] or list(benchmarks)
    unknown = [n for n in names if n not in benchmarks]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(benchmarks)}")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")

    home = isolate()
    say(f"mlcycle benchmarks: {', '.join(names)}")
    say(f"python {sys.version.split()[0]} ({sys.executable}); temporary state folder {home}")
    started = time.perf_counter()
    failed = []
    for name in names:
        module = benchmarks[name]
        ctx = Context(home=home, args=args, repeat=args.repeat or getattr(module, "DEFAULT_REPEAT", 1))
        began = time.perf_counter()
        try:
            module.run(ctx)
        except BenchError as exc:
            failed.append(name)
            say(f"\n  {name} FAILED: {exc}")
        say(f"  ({name} took {time.perf_counter() - began:.0f} s)")
    say(f"\ndone in {time.perf_counter() - started:.0f} s"
        + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    if failed or args.keep:
        say(f"temporary folder kept: {home}")
    else:
        cleanup(home)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
