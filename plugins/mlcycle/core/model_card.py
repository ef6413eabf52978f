"""The model card of a model version: what it was trained on, how it did, who let it serve, and its limits.

Built only from what the registry holds for the version (its tags, its run's parameters and metrics),
so the card cannot disagree with the tags. One structure, two renderings: Markdown (the run artifact
``model_card.md`` and the lake copy) and HTML (the Airflow plugin's page, every value escaped).
"""

from __future__ import annotations

from html import escape
from typing import Any

from mlcycle.core.catalogue import METRICS
from mlcycle.core.config import PipelineConfig

Section = tuple[str, list[tuple[str, str]]]


def _tagged(tags: dict[str, str], prefix: str) -> list[tuple[str, str]]:
    return [(key.removeprefix(prefix), value) for key, value in sorted(tags.items()) if key.startswith(prefix)]


def _metrics(metrics: dict[str, float], tags: dict[str, str]) -> list[tuple[str, str]]:
    rows = []
    for name in METRICS:
        if f"holdout_{name}" not in metrics:
            continue
        interval = tags.get(f"gate.interval.{name}")
        rows.append((name, f"{metrics[f'holdout_{name}']:.4f}"
                     + (f"; vs champion (challenger − champion, positive: better) {interval}" if interval else "")))
    return rows


def _limits(config: PipelineConfig, tags: dict[str, str]) -> list[tuple[str, str]]:
    training, evaluation = config.training, config.evaluation
    compared = ", ".join(f"{m} (tolerance {evaluation.tolerance(m):g})" for m in config.compared_metrics)
    return [
        ("window", f"trained on {tags.get('data.window', '?')} only: days, seasons and carriers outside it are not "
                   "covered; the daily monitor watches drift from it"),
        ("holdout", f"evaluated on the last {training.holdout_days} day(s) of the window, never trained on; "
                    "one short holdout is a noisy estimate (hence the intervals)"),
        ("gate", f"compared with the champion on {compared} at confidence {evaluation.confidence:g}; other "
                 "metrics only against absolute thresholds"),
        ("labels", f"{config.label}: the {config.task} label of the data contract; rows without it are not scored "
                   "by the gate"),
    ]


def build(config: PipelineConfig, info: dict[str, Any], params: dict[str, str],
          metrics: dict[str, float]) -> dict[str, Any]:
    """The card of a version (``info``: :func:`registry.version_info`; ``params``/``metrics``: its run's)."""
    tags = info["tags"]
    sections: list[Section] = [
        ("Data", [("window", tags.get("data.window", "")), ("rows", tags.get("data.rows", "")),
                  ("md5", tags.get("data.md5", "")), ("DVC pointer", tags.get("data.dvc_pointer", "")),
                  ("snapshot", tags.get("data.snapshot_uri", ""))]),
        ("Great Expectations", [("days validated", tags.get("gx.days_validated", "")),
                                ("every day published", tags.get("gx.all_published", ""))]),
        ("Training", [("estimator", tags.get("estimator", "")), *sorted(params.items())]),
        ("Holdout metrics", _metrics(metrics, tags)),
        ("Gate", [("result", tags.get("gate", "")), ("verdict", tags.get("gate.verdict", "")),
                  ("reasons", tags.get("gate.reasons", "")), *_tagged(tags, "gate.test."),
                  ("report", tags.get("gate.report", ""))]),
        ("Approval", [("approval", tags.get("approval", "")), ("by", tags.get("approval.by", "")),
                      ("at", tags.get("approval.at", "")), ("comment", tags.get("approval.comment", ""))]),
        ("Lineage", [("code commit", tags.get("code.commit", "")), ("cause", tags.get("cause", "")),
                     ("MLflow run", info.get("run_id", "")), *_tagged(tags, "airflow."),
                     ("promoted at", tags.get("promoted_at", "")), ("replaced by", tags.get("replaced_by", ""))]),
        ("Known limits", _limits(config, tags)),
    ]
    return {"model": config.model_name, "version": int(info["version"]), "description": config.description,
            "aliases": list(info.get("aliases", [])), "sections": [[title, rows] for title, rows in sections]}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(card: dict[str, Any]) -> str:
    """The card as Markdown (values with ``|`` and newlines made safe for a table)."""
    lines = [f"# Model card: {card['model']} v{card['version']}", "", card["description"], "",
             f"Aliases: {', '.join(card['aliases']) or 'none'}"]
    for title, rows in card["sections"]:
        lines += ["", f"## {title}", "", "| | |", "|---|---|", *[f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]]
    return "\n".join(lines) + "\n"


def html(card: dict[str, Any]) -> str:
    """The card as an HTML fragment (the page gives the title), every value escaped."""
    parts = [f"<p>{escape(card['description'])}</p>",
             f"<p>Aliases: {escape(', '.join(card['aliases']) or 'none')}</p>"]
    for title, rows in card["sections"]:
        body = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
        parts.append(f"<h2>{escape(title)}</h2><table>{body}</table>")
    return "".join(parts)
