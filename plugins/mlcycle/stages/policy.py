"""The run policy: why a run happened, whether it should go on, and what it must handle.

Each function returns a decision; the operators only translate it (run, skip, fail). Nothing here
imports Airflow: callers pass what Airflow told them (the triggering events' extras, the run type,
the Params), so the policy is tested as plain Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from mlcycle.core import governance, registry, tracking
from mlcycle.core.config import PipelineConfig
from mlcycle.stages import ingestion, scoring

Action = Literal["run", "skip", "fail"]


@dataclass(frozen=True)
class Decision:
    """What to do, and why (the reason goes to the task log and the skip or failure message)."""

    action: Action
    reason: str = ""
    incident: dict[str, Any] | None = None  # an alias moved outside the pipeline, for the operator to notify


@dataclass(frozen=True)
class WorkList:
    """The days a run of a stage must handle, and why exactly those."""

    days: list[str] = field(default_factory=list)
    reason: str = ""


RUN = Decision("run")


def training_cause(events: list[dict[str, Any]], run_type: str, reason: str = "") -> dict[str, Any]:
    """Why a training runs: the triggering Asset events (a drift alert), the schedule, or a person.

    Events that repeat an ``alert_id`` (an alert sent again after a lost answer) count once."""
    if events:
        unique, seen = [], set()
        for event in events:
            if event.get("alert_id") in seen:
                continue
            seen.add(event.get("alert_id") or id(event))
            unique.append(event)
        repeats = len(events) - len(unique)
        return {"type": "asset", "events": unique, **({"repeats": repeats} if repeats else {})}
    return {"type": "schedule" if run_type in ("scheduled", "backfill") else "manual", "reason": reason or ""}


def repeated_alerts(config: PipelineConfig, cause: dict[str, Any]) -> Decision:
    """Skip a run whose every triggering event is an alert already counted: its id started a training or was
    recorded (skipped, deferred). It is not recorded again: a repeated id is not a second alert."""
    ids = tracking.alert_ids(cause)
    if not ids or len(ids) < len(cause.get("events", [])):
        return RUN
    known = registry.trained_alert_ids(config.model_name) | tracking.recorded_alert_ids(config.model_name)
    if not set(ids) <= known:
        return RUN
    return Decision("skip", f"alert(s) {', '.join(ids)} already counted (a training or a recorded alert of "
                            f"{config.name} has this id): a repeated alert id is not a new alert")


def before_training(config: PipelineConfig, cause: dict[str, Any]) -> Decision:
    """Debounce drift alerts: a repeated alert id is skipped; inside the cooldown after a drift-triggered
    training, the alert is recorded and skipped."""
    if cause["type"] != "asset":
        return RUN
    repeated = repeated_alerts(config, cause)
    if repeated.action == "skip":
        return repeated
    last = registry.last_alert_training(config.model_name)
    cooldown = dt.timedelta(minutes=config.monitoring.cooldown_minutes)
    if last is None or dt.datetime.now(dt.UTC) - last >= cooldown:
        return RUN
    reason = (f"drift alert inside the cooldown: the last drift-triggered training of {config.name} was at "
              f"{last:%Y-%m-%d %H:%M:%S} UTC, cooldown {config.monitoring.cooldown_minutes} min "
              "(monitoring.cooldown_minutes); recorded in the MLflow experiment "
              f"{tracking.monitoring_experiment(config.model_name)}, no training. "
              f"Trigger train_{config.name} by hand to train anyway.")
    tracking.record_alert(config.model_name, "skipped", cause, reason)
    return Decision("skip", reason)


def too_little_data(config: PipelineConfig, cause: dict[str, Any], error: Exception) -> Decision:
    """A training that finds too few validated days: a person is told (fail); an alert or schedule skips.

    A drift alert is recorded as deferred. No model is registered, so no cooldown starts: the
    monitor's next alert retrains. (The first scheduled run after deployment can come before any data.)
    """
    if cause["type"] == "manual":
        return Decision("fail", str(error))
    reason = f"{cause['type']} training, but not enough validated data yet ({error})"
    if cause["type"] == "asset":
        reason += "; the next alert retrains"
        tracking.record_alert(config.model_name, "deferred", cause, reason)
    return Decision("skip", reason)


def before_consuming(config: PipelineConfig) -> Decision:
    """Where everything that uses ``champion`` starts: audit the aliases (a move the pipeline did not make is
    recorded and, by default, reverted: see :mod:`mlcycle.core.governance`), then refuse a champion that may
    not serve. The decision carries a new incident, if any."""
    incident = governance.audit(config)
    try:
        governance.servable_champion(config)
    except governance.UngatedChampion as refused:
        return Decision("fail", str(refused), incident)
    return Decision("run", "", incident)


def versions_to_handle(explicit: Any, event_extras: list[dict[str, Any]]) -> list[int]:
    """The Param ``version`` if set, else the versions named by the triggering Asset events."""
    if explicit not in (None, "", "None"):
        return [int(explicit)]
    found: set[int] = set()
    for extra in event_extras:
        found.update(int(v) for v in extra.get("versions", [extra["version"]] if "version" in extra else []))
    return sorted(found)


def days_to_handle(config: PipelineConfig, stage: str, ds: str | None, event_days: set[str]) -> WorkList:
    """The days a run of ``stage`` (validate, score, monitor) handles: the ``ds`` Param if set, else every
    day the stage has not handled yet. The lake is the work list, not the triggering events: those can
    be coalesced or missed, and a queued event can name a day an earlier run already handled."""
    if ds:
        return WorkList([ds], f"the date {ds} was given")
    if stage != "validate" and registry.champion(config.model_name) is None:
        return WorkList([], f"{config.model_name} has no champion yet: nothing to {stage}. Train a model and let "
                            f"the gate promote it (train_{config.name}).")
    pending = sorted(ingestion.pending_validation(config) if stage == "validate"
                     else scoring.pending_days(config, {"score": "predictions", "monitor": "monitoring"}[stage]))
    pending += scoring.pending_online_days(config) if stage == "monitor" else []  # closed days of online requests
    reason = (f"dates from Asset events: {sorted(event_days)} (already handled: {sorted(event_days - set(pending))});"
              f" days to {stage}: {pending}")
    if not pending:
        reason += f". Nothing to {stage}: trigger with a date, e.g. {{\"ds\": \"2013-01-01\"}}"
    return WorkList(pending, reason)
