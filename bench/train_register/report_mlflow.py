"""train_register's MLflow figures: the product's MLflow calls by category, and log_model part by part,
first call against warm ones."""

from __future__ import annotations

from typing import Any

from bench._harness.figures import labels_of, med, median, say, secs, table
from bench.train_register.constants import LOG_MODEL, REQUIREMENTS_CHECK, TARGET_LOG_MODEL


def mlflow_calls(product: list[dict[str, Any]], url: str, work: float) -> float:
    """The table of MLflow calls in the product path; their total seconds (median)."""
    say()
    say(f"  MLflow logging overhead in the product path: real server {url} (SQLite, proxied artifacts); "
        "timing shims in the worker, a call inside another counts to the outer one:")
    categories = labels_of(r["mlflow"] for r in product)
    categories.sort(key=lambda c: -med(product, "mlflow", c, "seconds"))
    rows = [[c, str(int(med(product, "mlflow", c, "calls"))), secs(med(product, "mlflow", c, "seconds"), 3)]
            for c in categories]
    total = med(product, "mlflow_total")
    rows.append(["sum", "", secs(total, 3)])
    table(rows, ["", "calls", "seconds"], right=(1, 2))
    say(f"  MLflow calls: {secs(total, 1)}, {total / work:.0%} of the product's work; the import of "
        f"mlflow adds {secs(med(product, 'imports', 'mlflow (+ mlflow.sklearn)'), 1)}")
    return total


def log_model(product: list[dict[str, Any]], warm: list[dict[str, Any]]) -> None:
    """log_model in the product path, and again in a process of its own: 1st call, then warm calls."""
    seconds = med(product, "mlflow", LOG_MODEL, "seconds")
    within = "within" if seconds <= TARGET_LOG_MODEL else "ABOVE"
    say(f"  mlflow.sklearn.log_model alone: {secs(seconds, 2)} -> {within} the target (informational: at most "
        f"{TARGET_LOG_MODEL:.0f} s); inside it:")
    labels = labels_of(r["log_model_parts"] for r in product)
    first, later = warm[0] if warm else None, warm[1:]

    def again(figure) -> list[str]:  # the 1st call, then the median of the warm ones
        return [secs(figure(first), 3) if first else "-",
                secs(median([figure(c) for c in later]), 3) if later else "-"]

    nested = REQUIREMENTS_CHECK[2]  # inside save_model: not added again

    def rest(call: dict[str, Any]) -> float:
        return call["seconds"] - sum(v for k, v in call["parts"].items() if k != nested)

    rows = [[label, secs(med(product, "log_model_parts", label), 3),
             *again(lambda call, label=label: call["parts"].get(label, 0.0))] for label in labels]
    rows.append(["other (telemetry, tags, local files)",
                 secs(seconds - sum(med(product, "log_model_parts", p) for p in labels if p != nested), 3),
                 *again(rest)])
    rows.append(["log_model", secs(seconds, 3), *again(lambda call: call["seconds"])])
    table(rows, ["", "product", "again: 1st call", f"again: warm (median of {len(later)})"], right=(1, 2, 3))
    if warm:
        say(f"  'again': log_model of the same model {len(warm)} times in another fresh process (after loading it "
            "from the registry, so its 1st call is a little warmer than the product's): "
            + ", ".join(secs(c["seconds"], 2) for c in warm) + ".")
        say("  What a 1st call costs beyond a warm one is paid once per process, i.e. by every train task")
