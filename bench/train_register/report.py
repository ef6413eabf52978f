"""train_register's figures: every path against the baseline, the overhead, the imports, the work part by
part, then (``report_mlflow``) the MLflow calls and log_model, and whether every path did the same work."""

from __future__ import annotations

import json
from typing import Any

from bench._harness.figures import labels_of, med, pct, say, say_load_at_end, secs, table
from bench.train_register.constants import (
    AIRFLOW_IMPORTS,
    BASE_IMPORTS,
    KINDS,
    OVERHEAD_OF,
    PRODUCT_IMPORTS,
    SHARED,
    STEPS,
    TARGET_OVERHEAD,
)
from bench.train_register.report_mlflow import log_model, mlflow_calls

Runs = dict[str, list[dict[str, Any]]]


def report(runs: Runs, setup: dict[str, Any], url: str, warm: list[dict[str, Any]]) -> None:
    say()
    if len(runs["baseline"]) > 1:
        say(f"  medians of {len(runs['baseline'])} runs:")
    figures = {kind: _figures(kind, rows) for kind, rows in runs.items()}
    _totals(figures)
    _overhead(runs, figures)
    _imports(runs, figures)
    _work(runs, figures)
    total_ml = mlflow_calls(runs["product"], url, figures["product"]["work"])
    log_model(runs["product"], warm)
    say(f"  (the product's own work, outside the shared computation, is {secs(figures['product']['own'], 1)}; "
        f"MLflow calls {secs(total_ml, 1)} of it)")
    _same_work(runs, setup)


def _figures(kind: str, rows: list[dict[str, Any]]) -> dict[str, float]:
    wall, imports, work = med(rows, "wall"), med(rows, "imports_total"), med(rows, "work")
    if kind == "baseline":
        shared = sum(med(rows, "phases", phase) for phase in SHARED.values())
    else:
        shared = sum(med(rows, "parts", step, label) for step, label in SHARED)
    return {"wall": wall, "imports": imports, "work": work, "rest": wall - imports - work, "shared": shared,
            "own": work - shared, "cpu": med(rows, "cpu"), "server_cpu": med(rows, "server_cpu")}


def _totals(figures: dict[str, dict[str, float]]) -> None:
    base = figures["baseline"]
    table([[KINDS[kind], secs(f["wall"], 1), secs(f["imports"], 1), secs(f["work"], 1), secs(f["shared"], 1),
            secs(f["own"], 1), secs(f["rest"], 1), f"{f['wall'] / base['wall']:.2f}x", secs(f["cpu"], 1),
            secs(f["server_cpu"], 1) if kind != "baseline" else "-"]
           for kind, f in figures.items()],
          ["", "total", "imports", "work", "shared", "own", "rest", "total/base", "CPU", "server CPU"],
          right=range(1, 10))
    say("  total = imports + work + rest. 'total': process wall from spawn to exit; 'imports': the path's libraries, "
        "imported up front;")
    say("  'work': everything after, of which 'shared' is the computation both paths do (snapshot read, fit, "
        "predict, gate) and 'own' the rest;")
    say("  'rest': interpreter start, config load, exit. 'CPU': the worker process's CPU time (user + system, "
        "children included); 'server CPU': the MLflow server's during that run")


def _overhead(runs: Runs, figures: dict[str, dict[str, float]]) -> None:
    base = figures["baseline"]
    say()
    say(f"  overhead over the baseline (target, informational, from the issue: orchestration and logging add at most "
        f"{TARGET_OVERHEAD:.0%}; ok = within it):")
    rows, details = [], []
    for kind in [k for k in figures if k != "baseline"]:
        fig = figures[kind]
        own_imports = sum(med(runs[kind], "imports", label) for label, _ in
                          (AIRFLOW_IMPORTS if kind == "airflow" else PRODUCT_IMPORTS)[len(BASE_IMPORTS):])
        added = {"own work": fig["own"] - base["own"], "imports only it needs": own_imports,
                 "start/exit": fig["rest"] - base["rest"]}
        estimate = base["wall"] + sum(added.values())
        cpu = fig["cpu"] + fig["server_cpu"]
        rows.append([OVERHEAD_OF[kind], _cell(fig["wall"], base["wall"]), _cell(estimate, base["wall"]),
                     _cell(cpu, base["cpu"])])
        details.append(f"  {kind} adds {sum(added.values()):+.1f} s without the noise: "
                       + ", ".join(f"{k} {v:+.1f} s" for k, v in added.items())
                       + f"; CPU {secs(fig['cpu'], 1)} + MLflow server {secs(fig['server_cpu'], 1)} vs "
                         f"{secs(base['cpu'], 1)}")
    table(rows, ["", "wall", "wall without the noise", "CPU (+ MLflow server)"])
    for line in details:
        say(line)
    say("  'without the noise': the shared computation is the same work on every path, yet took "
        + ", ".join(f"{secs(f['shared'], 1)} in {k}" for k, f in figures.items())
        + " (run-to-run noise: mostly the fit, and other load on the machine; --repeat gives medians);")
    say("  this figure counts the baseline's for every path, plus what each path adds. CPU time is less sensitive "
        "to other load than wall time")


def _cell(value: float, reference: float) -> str:
    verdict = "ok" if value <= reference * (1 + TARGET_OVERHEAD) else "ABOVE"
    return f"{value / reference:.2f}x ({pct(value, reference)}) {verdict}"


def _imports(runs: Runs, figures: dict[str, dict[str, float]]) -> None:
    say()
    say("  imports (one fresh process per path, incremental in this order; a shared dependency counts where "
        "first imported):")
    labels = [label for label, _ in (AIRFLOW_IMPORTS if "airflow" in runs else PRODUCT_IMPORTS)]
    rows = [[label, *(secs(med(rs, "imports", label), 2) if any(label in r["imports"] for r in rs) else "-"
                      for rs in runs.values())] for label in labels]
    rows.append(["sum", *(secs(figures[k]["imports"], 2) for k in runs)])
    table(rows, ["", *runs], right=range(1, len(runs) + 1))


def _work(runs: Runs, figures: dict[str, dict[str, float]]) -> None:
    say()
    say("  work, part by part (a part called inside another counts to the outer one; * = shared computation):")
    others = [k for k in runs if k != "baseline"]
    rows = []
    for step in STEPS:
        labels = labels_of(r["parts"].get(step, {}) for kind in others for r in runs[kind])
        for label in labels:
            phase = SHARED.get((step, label))
            rows.append([f"{step}: {label}{' *' if phase else ''}",
                         secs(med(runs["baseline"], "phases", phase), 2) if phase else "-",
                         *(secs(med(runs[k], "parts", step, label), 2) for k in others)])
        rows.append([f"{step}: other (glue, local files)", "-",
                     *(secs(med(runs[k], "steps", step) - sum(med(runs[k], "parts", step, p) for p in labels), 2)
                       for k in others)])
        rows.append([f"{step} total", "-", *(secs(med(runs[k], "steps", step), 2) for k in others)])
    rows.append(["baseline: other (list partitions, split, scored frame)", secs(figures["baseline"]["own"], 2),
                 *("-" for _ in others)])
    rows.append(["work total", *(secs(figures[k]["work"], 2) for k in runs)])
    table(rows, ["", *runs], right=range(1, len(runs) + 1))
    if "airflow" in runs:
        flow = runs["airflow"]
        say("  inside dag.test, around the task work: " + ", ".join(
            f"{step.split('_')[0]} +{med(flow, 'dag_test', step) - med(flow, 'steps', step):.1f} s"
            for step in STEPS) + " (DAG run bookkeeping, XCom, links;")
        say("  the first dag.test of a process also starts dag.test's in-process execution API and task runner: "
            "evaluate and register, later in the same process, show the per-task cost)")


def _same_work(runs: Runs, setup: dict[str, Any]) -> None:
    say()
    firsts = {k: rs[0] for k, rs in runs.items()}
    metrics = {k: json.dumps(r["holdout_metrics"], sort_keys=True) for k, r in firsts.items()}
    same = len(set(metrics.values())) == 1
    hm = firsts["baseline"]["holdout_metrics"]
    say(f"  same model on every path: {'yes' if same else 'NO'} (holdout roc_auc {hm.get('roc_auc')}, accuracy "
        f"{hm.get('accuracy')}; {firsts['baseline']['train_rows']:,} train rows, "
        f"{firsts['baseline']['holdout_rows']:,} holdout rows)")
    if not same:
        for kind, text in metrics.items():
            say(f"    {kind}: {text}")
    say(f"  gate: baseline {'PASSED' if firsts['baseline']['passed'] else 'FAILED'}" + "".join(
        f", {k} {'PASSED' if r['passed'] else 'FAILED'} -> {r['action']} v{r['version']} (champion "
        f"{'v' + str(r['champion']) if r['champion'] else 'none'})" for k, r in firsts.items() if k != "baseline"))
    for kind, r in firsts.items():
        if r.get("reasons"):
            say(f"    {kind} gate reasons: {'; '.join(r['reasons'])}")
    say(f"  setup (not measured) took {secs(setup['seconds'], 0)}; each product and airflow run starts with no "
        "registered model and a fresh state folder (its DVC repo is initialised in the run)")
    say_load_at_end()
