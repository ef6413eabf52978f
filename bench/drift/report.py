"""The drift benchmark's figures: the paths against the baseline, the targets, drift_report part by part,
and how often the sampled verdict agrees with the full-data one."""

from __future__ import annotations

from typing import Any

from bench._harness.figures import labels_of, med, ratio, say, say_load_at_end, secs, table
from bench.drift.constants import (
    DEFAULT_SHARE,
    EMPTY_COLUMNS,
    FLIGHTS_SAMPLE_ROWS,
    FLIGHTS_SHARE,
    KINDS,
    KS_ALPHA,
    PSI_LIMIT,
    SAMPLE_ROWS,
    SAMPLED,
    TARGET_PEAK_MB,
    TARGET_RATIO,
)
from bench.drift.data import AGREEMENT_SCENARIOS, COLUMNS, SCENARIOS

Runs = dict[str, list[dict[str, Any]]]


def report(runs: Runs, agreement: dict[str, Any] | None, rows: int) -> None:
    base_call, base_imports = med(runs["baseline"], "call"), med(runs["baseline"], "imports_total")
    _paths(runs, rows, base_call, base_imports)
    _targets(runs, rows, base_call, base_imports)
    _parts(runs, rows, base_call)
    say()
    say("  agreement of the sampled verdict with Evidently on all rows (drift at drift_share "
        f"{DEFAULT_SHARE}, the default, and {FLIGHTS_SHARE}, flights.yaml's):")
    if "full" in runs:
        _agreement_full_size(runs, rows)
    else:
        say(f"    (no full-data {rows:,}-row run: --no-full)")
    if agreement:
        _agreement_scenarios(agreement)
    say_load_at_end()


def _compare(sampled: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    """How a sampled verdict compares with the full-data one: columns, and drift at both share limits."""
    s, f = set(sampled["drifted"]), set(full["drifted"])
    return {"same_columns": s == f, "column_agree": sum((c in s) == (c in f) for c in COLUMNS),
            "flips": sorted(s ^ f),
            "verdict": {share: (sampled["share"] >= share) == (full["share"] >= share)
                        for share in (DEFAULT_SHARE, FLIGHTS_SHARE)},
            "max_score_diff": max((abs(sampled["scores"][c] - full["scores"][c]) for c in COLUMNS
                                   if c in sampled["scores"] and c in full["scores"]), default=float("nan"))}


def _paths(runs: Runs, rows: int, base_call: float, base_imports: float) -> None:
    say()
    if len(runs["baseline"]) > 1:
        say(f"  medians of {len(runs['baseline'])} runs (the full-data run once):")
    table_rows = []
    for kind, rs in runs.items():
        call, imports = med(rs, "call"), med(rs, "imports_total")
        first = rs[0]
        v = first["verdict"]
        table_rows.append([
            KINDS[kind], f"{first['rows_read']:,}", secs(call, 1), secs(imports, 1),
            f"{med(rs, 'memory', 'peak'):.0f}", f"{med(rs, 'memory', 'peak') - med(rs, 'memory', 'data'):.0f}",
            ratio(call, base_call), ratio(call + imports, base_call + base_imports),
            f"{len(v['drifted'])}/{len(COLUMNS)}", f"{v['share']:.2f}"])
    table(table_rows, ["path", "rows/side", "call", "imports", "peak MB", "above data", "call/base",
                       "+imports/base", "drifted", "share"], right=range(1, 10))
    g = runs["baseline"][0]
    say(f"  'call' = the drift computation alone; 'imports' = its libraries, paid once per process (an Airflow "
        f"task is one); data generation ({secs(g['generate'], 1)} for both frames) is not counted.")
    say(f"  'peak MB' = ru_maxrss of the worker (imports + both {rows:,}-row frames + the check); 'above data' = "
        f"peak - RSS right after generating the frames ({med(runs['baseline'], 'memory', 'data'):.0f} MB in the "
        "baseline worker).")
    say(f"  baseline verdict: KS p < {KS_ALPHA} or PSI >= {PSI_LIMIT}; p-values on {rows:,} rows flag even tiny "
        "shifts. Product: Wasserstein (normed) / Jensen-Shannon >= 0.1, drift when share >= drift_share.")


def _targets(runs: Runs, rows: int, base_call: float, base_imports: float) -> None:
    say()
    say(f"  targets (informational, not asserted): call within {TARGET_RATIO:.0f}x the baseline's "
        f"({secs(base_call, 1)}), peak at most 2 GB ({TARGET_PEAK_MB} MB):")
    for kind in SAMPLED:
        if kind not in runs:
            continue
        rs = runs[kind]
        call, peak = med(rs, "call"), med(rs, "memory", "peak")
        with_imports = (call + med(rs, "imports_total")) / (base_call + base_imports)
        say(f"    {KINDS[kind]}: {call / base_call:.2f}x -> {_within(call / base_call <= TARGET_RATIO)} "
            f"(with imports {with_imports:.2f}x -> {_within(with_imports <= TARGET_RATIO)}); peak {peak:.0f} MB -> "
            f"{_within(peak <= TARGET_PEAK_MB)}")
    if "full" in runs:
        full = med(runs["full"], "call")
        faster = full / med(runs["product"], "call")
        say(f"  Evidently on all rows: {secs(full, 0)} for {rows:,} x {len(COLUMNS)} (the issue: ~34 s for 1M x 10 "
            f"with the default preset); sampling to {SAMPLE_ROWS:,} makes the call {faster:.1f}x faster.")
    stats = med(runs["stats"], "call")
    same = "(no full-data run to compare with)"
    if "full" in runs:
        c = _compare(runs["stats"][0]["verdict"], runs["full"][0]["verdict"])
        same = (f"the same drifted columns as Evidently's full-data run: {_yes(c['same_columns'])} (largest score "
                f"difference {c['max_score_diff']:.1e})")
    say(f"  the product's statistics without Evidently, on all rows (scipy): {secs(stats, 1)} = "
        f"{ratio(stats, base_call)} the baseline; {same}")


def _parts(runs: Runs, rows: int, base_call: float) -> None:
    say()
    say("  product call, part by part (timing shims; a part is timed once even when called inside another):")
    labels = labels_of(r["parts"] for kind in SAMPLED for r in runs.get(kind, []))

    def cells(figure) -> list[str]:
        return [figure(runs[k]) if k in runs else "-" for k in SAMPLED]

    part_rows = [[label, *cells(lambda rs, label=label: f"{secs(med(rs, 'parts', label, 'seconds'), 2)} "
                                                         f"({int(med(rs, 'parts', label, 'calls'))})")]
                 for label in labels]
    part_rows.append(["other (preset, snapshot.dict(), tests read back)",
                      *cells(lambda rs: secs(med(rs, "call") - sum(med(rs, "parts", p, "seconds") for p in labels),
                                             2))])
    part_rows.append(["call", *cells(lambda rs: secs(med(rs, "call"), 2))])
    table(part_rows, ["seconds (calls)", f"sample {SAMPLE_ROWS:,}", f"sample {FLIGHTS_SAMPLE_ROWS:,}", "full"],
          right=(1, 2, 3))
    empty = runs["product"][0]["parts"].get(EMPTY_COLUMNS)
    if empty and empty["calls"] > 1:
        calls, scans = empty["calls"], med(runs["product"], "parts", EMPTY_COLUMNS, "seconds")
        say(f"  note: drift_report calls empty_columns() once per column ({calls} calls), each scanning all "
            f"{len(COLUMNS)} columns of both full {rows:,}-row frames for missing values before sampling: "
            f"{secs(scans, 1)} of the call; one scan would do.")
        for kind in ("product", "flights"):
            scans = med(runs[kind], "parts", EMPTY_COLUMNS, "seconds")
            estimate = med(runs[kind], "call") - scans * (1 - 1 / calls)
            say(f"    estimate with one scan, {KINDS[kind]}: {secs(estimate, 1)} = "
                f"{ratio(estimate, base_call)} the baseline (an estimate from the parts, not a measurement)")


def _agreement_full_size(runs: Runs, rows: int) -> None:
    full = runs["full"][0]["verdict"]
    for kind in ("product", "flights"):
        c = _compare(runs[kind][0]["verdict"], full)
        say(f"    {rows:,} rows, sample {runs[kind][0]['sample_rows']:,}: drifted columns "
            f"{'identical' if c['same_columns'] else 'differ: ' + ', '.join(c['flips'])} "
            f"({c['column_agree']}/{len(COLUMNS)} column verdicts agree), drift verdict agrees: "
            f"{_yes(c['verdict'][DEFAULT_SHARE])} / {_yes(c['verdict'][FLIGHTS_SHARE])}; largest score "
            f"difference {c['max_score_diff']:.4f}")


def _agreement_row(name: str, compared: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    n = len(compared)
    return [name, str(n), f"{sum(c['same_columns'] for _, c in compared)}/{n}",
            f"{sum(c['column_agree'] for _, c in compared)}/{n * len(COLUMNS)}",
            f"{sum(c['verdict'][DEFAULT_SHARE] for _, c in compared)}/{n}",
            f"{sum(c['verdict'][FLIGHTS_SHARE] for _, c in compared)}/{n}",
            f"{max(c['max_score_diff'] for _, c in compared):.4f}"]


def _agreement_scenarios(agreement: dict[str, Any]) -> None:
    pairs = agreement["scenarios"]
    if not pairs:
        say("    (no agreement scenarios ran)")
        return
    compared = [(p, _compare(p["sampled"], p["full"])) for p in pairs]
    rows_out = []
    for scenario in AGREEMENT_SCENARIOS:
        mine = [(p, c) for p, c in compared if p["scenario"] == scenario]
        if mine:
            rows_out.append(_agreement_row(scenario, mine))
    rows_out.append(_agreement_row("all", compared))
    say(f"    {agreement['rows']:,} rows per side sampled to {agreement['sample_rows']:,} "
        f"({agreement['seeds']} seed{'s' if agreement['seeds'] > 1 else ''} per scenario):")
    table(rows_out, ["scenario", "runs", "same columns", "column verdicts", f"drift @{DEFAULT_SHARE}",
                     f"drift @{FLIGHTS_SHARE}", "max |score diff|"], right=range(1, 7))
    for p, c in compared:
        if c["flips"]:
            say(f"    {p['scenario']} seed {p['seed']}: " + ", ".join(
                f"{col} sampled {p['sampled']['scores'].get(col, float('nan')):.4f} vs full "
                f"{p['full']['scores'].get(col, float('nan')):.4f}" for col in c["flips"]) + " (threshold 0.1)")
    for scenario in AGREEMENT_SCENARIOS:
        say(f"    {scenario}: {SCENARIOS[scenario]}")
    say(f"    a {agreement['sample_rows']:,}-row sample is noisier than a {SAMPLE_ROWS:,}-row one, so at 1M rows the "
        "sampled verdict agrees at least as often; only columns whose distance is near 0.1 can flip.")


def _within(ok: bool) -> str:
    return "within target" if ok else "OVER target"


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"
