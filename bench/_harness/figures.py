"""Printing the figures: progress lines, tables, medians over runs, ratios, the machine's load."""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable
from typing import Any


def say(text: str = "", end: str = "\n") -> None:
    """Progress and results: always flushed, so `make bench` shows them as they happen."""
    print(text, end=end, flush=True)


def header(title: str) -> None:
    say()
    say(f"== {title} ==")


def each_fresh(repeat: int) -> str:
    """How often every path runs, for a benchmark's header."""
    return f"{repeat} run{'s' if repeat > 1 else ''} each, fresh processes"


def secs(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base > 0 else "n/a"


def pct(value: float, base: float) -> str:
    return f"{(value / base - 1) * 100:+.0f}%" if base > 0 else "n/a"


def median(values: list[float]) -> float:
    return statistics.median(values)


def med(rows: list[dict[str, Any]], *keys: str) -> float:
    """Median over runs of ``row[keys[0]][keys[1]]...``; a missing or non-numeric figure counts as 0."""
    def get(row: Any) -> float:
        for key in keys:
            row = row.get(key, {}) if isinstance(row, dict) else {}
        return float(row) if isinstance(row, int | float) else 0.0
    return median([get(r) for r in rows])


def table(rows: list[list[str]], header_row: list[str], right: Iterable[int] = ()) -> None:
    """Print a plain-text table; columns listed in ``right`` are right-aligned."""
    right = set(right)
    cells = [header_row, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header_row))]

    def line(row: list[str]) -> str:
        cells = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        return "  ".join(cells)

    say("  " + line(header_row).rstrip())
    say("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        say("  " + line(row).rstrip())


def load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def machine() -> str:
    """Cores and load: other processes slow every path of a benchmark alike."""
    return f"{os.cpu_count()} cores, load average {load_average()}"


def say_load_at_end() -> None:
    say(f"  load average at the end: {load_average()} on {os.cpu_count()} cores")


def labels_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The keys of several runs' dicts, in order of first appearance."""
    labels: list[str] = []
    for row in rows:
        labels += [label for label in row if label not in labels]
    return labels
