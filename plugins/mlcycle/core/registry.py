"""MLflow Model Registry: model versions, aliases and the promotion history.

Aliases, not stages: ``challenger`` marks the newest candidate, ``champion`` the serving model,
``previous`` the champion it replaced (what a rollback restores). Every move of ``champion`` is
serialised by a lock, re-read after it is set, and recorded as a run of the experiment
``<model>-promotions`` so the history is visible in the MLflow UI. The record is the pipeline's
*intent* (``kind=intent``: what ``champion`` and ``previous`` will be), written before the aliases
move, so an audit (:mod:`mlcycle.core.governance`) tells a move of the pipeline from one made by hand.
Runs themselves are :mod:`mlcycle.core.tracking`'s.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import warnings
from typing import Any

from mlcycle import settings
from mlcycle.core.locks import file_lock
from mlcycle.core.tracking import TAG_LIMIT, client, record_event
from mlcycle.errors import DataError

log = logging.getLogger(__name__)
CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"


class RegistryError(DataError):
    """A registry request that cannot be honoured (unknown version, nothing to roll back to, ...)."""


class RegistryUnavailable(RuntimeError):
    """MLflow did not answer, or failed: not the request's fault, so a task retries it (not a DataError)."""


def ensure_model(name: str, description: str) -> None:
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    try:
        mlflow_client.get_registered_model(name)
    except MlflowException:
        mlflow_client.create_registered_model(name, description=description)


def register_candidate(name: str, description: str, model_uri: str, tags: dict[str, str]) -> int:
    """Register a logged model as a new version of ``name`` and make it the ``challenger``."""
    import mlflow

    ensure_model(name, description)
    version = int(mlflow.register_model(model_uri, name, tags={**tags, "gate": "pending"}).version)
    client().set_registered_model_alias(name, CHALLENGER, str(version))
    log.info("registered %s version %s as %s (%s)", name, version, CHALLENGER, model_uri)
    return version


def alias_version(name: str, alias: str) -> int | None:
    """The version an alias points to, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return int(client().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def version_info(name: str, version: int) -> dict[str, Any]:
    """A model version's run id, tags and aliases."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client().get_model_version(name, str(version))
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":  # MLflow down or failing: worth a retry, not a bad request
            raise RegistryUnavailable(f"MLflow at {settings.mlflow_tracking_uri()} could not answer for model "
                                      f"'{name}' version {version} ({exc.error_code}): {exc}") from exc
        raise RegistryError(f"model '{name}' has no version {version} in {settings.mlflow_tracking_uri()}") from exc
    return {"version": int(mv.version), "run_id": mv.run_id, "tags": dict(mv.tags), "aliases": list(mv.aliases),
            "source": mv.source}


def load_model(name: str, version: int):
    import mlflow

    client()
    with warnings.catch_warnings():
        # skops probes every loaded module for numpy function names: one warning per Airflow shim
        warnings.simplefilter("ignore", FutureWarning)
        return mlflow.sklearn.load_model(f"models:/{name}/{version}")


def record_gate(name: str, version: int, gate: Any, report_files: list[str]) -> str:
    """Attach the gate report to the version's run and its verdict (a :class:`gating.GateResult`: passed,
    verdict, tests, reasons, intervals) to the version's tags."""
    mlflow_client = client()
    run_id = version_info(name, version)["run_id"]
    for path in report_files:
        mlflow_client.log_artifact(run_id, path, "evaluation")
    passed, tests = gate.passed, gate.tests
    tags = {"gate": "passed" if passed else "failed", "gate.report": "evaluation/gate_report.html",
            "gate.reasons": "; ".join(gate.reasons)[:TAG_LIMIT] or "all tests passed", "gate.verdict": gate.verdict}
    tags.update({f"gate.test.{t['id']}": f"{t['status']}: {t['name']}"[:TAG_LIMIT] for t in tests})
    tags.update({f"gate.interval.{metric}": text for metric, text in gate.intervals.items()})
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, str(version), key, value)
    lineage = version_info(name, version)["tags"]
    lines = [f"Gate {'PASSED' if passed else 'FAILED'} ({gate.verdict}). Report: run artifacts "
             "evaluation/gate_report.html",
             *[f"- {t['status']}: {t['name']} ({t['description']})" for t in tests],
             f"Trained on {lineage.get('data.window', '?')} ({lineage.get('data.rows', '?')} rows), data md5 "
             f"{lineage.get('data.md5', '?')}, code {lineage.get('code.commit', '?')}, "
             f"Airflow run {lineage.get('airflow.run_id', '?')}."]
    mlflow_client.update_model_version(name, str(version), description="\n".join(lines))
    return run_id


def _record(name: str, action: str, from_version: int | None, to_version: int | None, reason: str,
            extra: dict[str, str]) -> dict[str, Any]:
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record = {"action": action, "model": name, "from_version": str(from_version or ""),
              "to_version": str(to_version or ""), "reason": reason, "at": when, **extra}
    record_event(f"{name}-promotions", f"{action} v{from_version or '-'} -> v{to_version or '-'}", record)
    return record


def record_action(name: str, action: str, from_version: int | None, to_version: int | None, reason: str,
                  extra: dict[str, str]) -> dict[str, Any]:
    """A record of the promotion history that moves no alias (approvals, supersessions)."""
    return _record(name, action, from_version, to_version, reason[:TAG_LIMIT],
                   {k: str(v)[:TAG_LIMIT] for k, v in extra.items()})


def _records(name: str, where: str = "", newest_first: bool = False, limit: int = 1000) -> list[dict[str, str]]:
    mlflow_client = client()
    experiment = mlflow_client.get_experiment_by_name(f"{name}-promotions")
    if experiment is None:
        return []
    runs = mlflow_client.search_runs([experiment.experiment_id], where, max_results=limit,
                                     order_by=[f"attributes.start_time {'DESC' if newest_first else 'ASC'}"])
    return [dict(r.data.tags) for r in runs]


def history(name: str) -> list[dict[str, str]]:
    """Promotion, rejection, rollback, approval and incident records, oldest first."""
    keys = ("action", "from_version", "to_version", "reason", "at", "report", "airflow_run", "by", "comment")
    return [{k: tags.get(k, "") for k in keys} for tags in _records(name)]


def last_record(name: str) -> dict[str, str]:
    """The tags of the newest record of the history ({} without one)."""
    return next(iter(_records(name, newest_first=True, limit=1)), {})


def _version(text: str | None) -> int | None:
    return int(text) if text else None


def expected_aliases(name: str) -> dict[str, int | None]:
    """What ``champion`` and ``previous`` are after the pipeline's last move (None: unset).

    From the newest intent record; history written before intents existed gives the champion only."""
    newest = _records(name, "tags.kind = 'intent'", newest_first=True, limit=1)
    if newest:
        return {CHAMPION: _version(newest[0]["expect.champion"]), PREVIOUS: _version(newest[0]["expect.previous"])}
    moves = [r for r in history(name) if r["action"] in ("promote", "rollback")]
    return {CHAMPION: _version(moves[-1]["to_version"]) if moves else None}


def set_aliases(name: str, aliases: dict[str, int | None]) -> None:
    """Point each alias at its version; None deletes the alias. Callers hold :func:`champion_lock`."""
    mlflow_client = client()
    for alias, version in aliases.items():
        if version is not None:
            mlflow_client.set_registered_model_alias(name, alias, str(version))
        elif alias_version(name, alias) is not None:
            mlflow_client.delete_registered_model_alias(name, alias)


def record_incident(name: str, expected: dict[str, int | None], found: dict[str, int | None], reason: str,
                    response: str) -> dict[str, Any]:
    """An alias the pipeline did not set, in the promotion history (``kind=incident``)."""
    return _record(name, "incident", expected.get(CHAMPION), found.get(CHAMPION), reason[:TAG_LIMIT],
                   {"kind": "incident", "response": response, "found": describe_aliases(found)})


def describe_aliases(aliases: dict[str, int | None]) -> str:
    return ", ".join(f"{alias}=v{version}" if version else f"{alias} unset" for alias, version in aliases.items())


def champion_lock(name: str):
    """The lock every move of ``champion`` and ``previous`` (and the audit) holds."""
    return file_lock(settings.state_dir() / "locks" / f"champion-{name}.lock")


def _drop_challenger(name: str, version: int) -> None:
    if alias_version(name, CHALLENGER) == version:
        client().delete_registered_model_alias(name, CHALLENGER)


def _intent(name: str, action: str, current: int | None, aliases: dict[str, int | None], reason: str,
            extra: dict[str, str]) -> dict[str, Any]:
    return _record(name, action, current, aliases[CHAMPION], reason,
                   {**extra, "kind": "intent", **{f"expect.{a}": str(v or "") for a, v in aliases.items()}})


def _move_champion(name: str, version: int, action: str, reason: str, extra: dict[str, str]) -> dict[str, Any]:
    """Point ``champion`` at ``version`` under the lock. A promotion keeps the old champion as ``previous``;
    a rollback marks the withdrawn champion ``rolled_back`` so no later default rollback brings it back.

    The intent is recorded first; a move that fails records the aliases as they were (``abort``)."""
    mlflow_client = client()
    current, previous = alias_version(name, CHAMPION), alias_version(name, PREVIOUS)
    before = {CHAMPION: current, PREVIOUS: previous}
    if current == version:
        log.info("%s version %s is already %s", name, version, CHAMPION)
        if expected_aliases(name).get(CHAMPION) != version:  # set by hand: this run makes it the pipeline's
            _intent(name, action, current, before, f"{reason} (adopts the champion set outside the pipeline)", extra)
        return {"action": "noop", "from_version": current, "to_version": version}
    after = {CHAMPION: version, PREVIOUS: None if action == "rollback" else current if current else previous}
    record = _intent(name, action, current, after, reason, extra)
    try:
        if current is not None and action == "rollback":
            mlflow_client.set_model_version_tag(name, str(current), "rolled_back", "true")
        elif current is not None:
            mlflow_client.set_model_version_tag(name, str(current), "replaced_by", str(version))
        set_aliases(name, after)
    except Exception:
        _intent(name, "abort", current, before, f"the move to v{version} failed", extra)
        raise
    confirmed = alias_version(name, CHAMPION)
    if confirmed != version:
        raise RegistryError(f"{CHAMPION} of {name} reads back as {confirmed} after setting {version}")
    return record


def promote(name: str, version: int, reason: str, report: str = "", airflow_run: str = "") -> dict[str, Any]:
    """Make a version that passed the gate the champion; the old champion becomes ``previous``."""
    tags = version_info(name, version)["tags"]
    if tags.get("gate") != "passed":
        raise RegistryError(f"{name} v{version} has gate={tags.get('gate', 'none')}: only a version that passed "
                            "the Evidently gate can be promoted")
    with champion_lock(name):
        record = _move_champion(name, version, "promote", reason, {"report": report, "airflow_run": airflow_run})
        client().set_model_version_tag(name, str(version), "promoted_at", dt.datetime.now(dt.UTC).isoformat())
        _drop_challenger(name, version)
    return record


def reject(name: str, version: int, reasons: list[str], report: str = "", airflow_run: str = "") -> dict[str, Any]:
    """Record a failed gate on the version; the champion is left untouched."""
    with champion_lock(name):
        client().set_model_version_tag(name, str(version), "rejected", "true")
        _drop_challenger(name, version)
        return _record(name, "reject", alias_version(name, CHAMPION), version, "; ".join(reasons)[:TAG_LIMIT],
                       {"report": report, "airflow_run": airflow_run})


def rollback(name: str, version: int | None, reason: str, airflow_run: str = "") -> dict[str, Any]:
    """Move ``champion`` back to ``version`` (default: the ``previous`` champion)."""
    with champion_lock(name):
        target = version or alias_version(name, PREVIOUS)
        if target is None:
            raise RegistryError(f"{name} has no '{PREVIOUS}' champion to roll back to (none yet, or already "
                                "rolled back); pass a version explicitly")
        tags = version_info(name, target)["tags"]
        if tags.get("gate") != "passed":
            raise RegistryError(f"{name} v{target} never passed the gate (gate={tags.get('gate', 'none')}); "
                                "roll back only to a version that did")
        return _move_champion(name, target, "rollback", reason, {"airflow_run": airflow_run})


def champion(name: str) -> dict[str, Any] | None:
    """The serving version's :func:`version_info` (run id, lineage tags), or None before the first promotion."""
    version = alias_version(name, CHAMPION)
    return None if version is None else version_info(name, version)


def last_alert_training(name: str) -> dt.datetime | None:
    """When the newest version trained because of an Asset event (a drift alert) was registered."""
    stamps = []
    for mv in client().search_model_versions(f"name = '{name}'"):
        try:
            cause = json.loads(mv.tags.get("cause", "{}"))
        except ValueError:
            continue
        if cause.get("type") == "asset":
            stamps.append(mv.creation_timestamp)
    return dt.datetime.fromtimestamp(max(stamps) / 1000, dt.UTC) if stamps else None


def trained_alert_ids(name: str) -> set[str]:
    """The alert ids that started a training of a version of ``name`` (its ``alert_ids`` tag)."""
    return {i for mv in client().search_model_versions(f"name = '{name}'")
            for i in mv.tags.get("alert_ids", "").split(",") if i}
