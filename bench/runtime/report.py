"""The tables of the runtime benchmark: PostgreSQL beside the SQLite baseline of the same run."""

from __future__ import annotations

from typing import Any

from bench._harness.figures import ratio, say, secs, table


def bursts(results: dict[str, dict[str, Any]], sizes: list[int]) -> None:
    say("\n  alert bursts (all alerts sent at once; latency from the first try to the answer, retries included)")
    rows = []
    for n in sizes:
        for database, figures in results.items():
            b = figures.get("bursts", {}).get(n)
            if b:
                rows.append([str(n), database, str(b["accepted"]), str(b["duplicate"]), str(b["gave_up"]),
                             str(b["retried"]), secs(b["p50"], 2), secs(b["p99"], 2), str(b["lost"])])
    table(rows, ["alerts", "database", "accepted", "duplicate", "gave up", "retried", "p50", "p99", "lost"],
          right=range(2, 9))
    for database, figures in results.items():
        for n, b in figures.get("bursts", {}).items():
            if b["reasons"]:
                say(f"  {database} burst {n}, last errors: {'; '.join(b['reasons'][:3])}")


def kills(results: dict[str, dict[str, Any]]) -> None:
    say("\n  kill -9 of one component -> every component healthy again")
    names = list(dict.fromkeys(n for f in results.values() for n in f.get("kills", {})))
    databases = list(results)
    rows = [[name, *(secs(results[d].get("kills", {}).get(name), 1) if name in results[d].get("kills", {})
                     else "n/a" for d in databases)] for name in names]
    rows.append(["(start, from nothing)", *(secs(results[d].get("start"), 1) for d in databases)])
    table(rows, ["component", *databases], right=range(1, len(databases) + 1))


def demos(results: dict[str, dict[str, Any]]) -> None:
    base = results.get("sqlite", {}).get("demo")
    rows = [[d, secs(f.get("demo"), 0) if f.get("demo") else "failed",
             ratio(f["demo"], base) if base and f.get("demo") else "-"] for d, f in results.items()]
    say("\n  make demo (python -m mlcycle.tools.demo) on a running stack")
    table(rows, ["database", "wall time", "vs sqlite"], right=(1, 2))
