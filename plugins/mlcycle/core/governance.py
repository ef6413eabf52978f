"""Who may move the champion, and what a champion must carry to be used.

The contract of a model version's tags, as the registry and the gate write them and every consumer
of ``champion`` reads them:

- ``gate``: ``pending`` (registered), then ``passed`` or ``failed`` (the gate), with ``gate.reasons``,
  ``gate.report``, one ``gate.test.<id>`` per test, ``gate.verdict`` (promote | reject | inconclusive)
  and one ``gate.interval.<metric>`` per compared metric (``"[lo, hi] @ 0.95"``: challenger − champion,
  oriented so that positive is better);
- ``approval``: pending | approved | rejected | timedout | superseded | not_required, with ``approval.by``,
  ``approval.at`` and ``approval.comment`` (:mod:`mlcycle.core.approval`). ``approved`` is required only
  where the pipeline sets ``promotion.approval: required`` (earlier: ``governance.require_approval``);
- ``rejected``, ``replaced_by``, ``rolled_back``, ``promoted_at``: what the registry did with it;
- lineage, written at training (:mod:`mlcycle.stages.modelling`): ``data.*``, ``code.commit``,
  ``code.dirty``, ``env.lock_md5``, ``env.python``, ``airflow.*``; and, on a champion, ``onnx``
  (``exported`` or ``failed``), ``onnx.reason``, ``onnx.max_abs_diff`` (:mod:`mlcycle.core.onnx_export`);
- ``shadow``: ``requested`` when a person wants the version to run in shadow of the champion.

A *pending challenger* (:func:`pending_challenger`) is a version that passed the gate and waits for
approval (``approval=pending``), or one marked ``shadow=requested``: the serving app and score run it
in shadow, its predictions logged beside the champion's.

A version may serve (be scored with, be the reference of monitoring) when it passed the gate and,
where required, was approved. Only the pipeline moves ``champion`` and ``previous``, and it records
its intent before each move (:mod:`mlcycle.core.registry`); :func:`audit` compares the aliases with
the last intent, records a difference as an incident in the promotion history and, with
``governance.on_manual_alias: revert`` (the default), sets them back.
"""

from __future__ import annotations

import logging
from typing import Any

from mlcycle.core import registry
from mlcycle.core.config import PipelineConfig

log = logging.getLogger(__name__)


class UngatedChampion(registry.RegistryError):
    """The champion may not serve: it did not pass the gate, or lacks a required approval."""


def refusals(config: PipelineConfig, tags: dict[str, str]) -> list[str]:
    """Why a version with these tags may not serve as champion; empty when it may."""
    found = []
    gate = tags.get("gate", "none")
    if gate != "passed":
        reasons = f" ({tags['gate.reasons']})" if gate == "failed" and tags.get("gate.reasons") else ""
        found.append(f"its gate verdict is '{gate}'{reasons}")
    if config.promotion.approval == "required" and tags.get("approval") != "approved":
        found.append(f"it is not approved (approval={tags.get('approval', 'none')}; the pipeline sets "
                     "promotion.approval: required)")
    return found


def _restore_hint(config: PipelineConfig) -> str:
    return (f"Restore a good champion with rollback_{config.name} (no version: the previous champion; or name a "
            f"version that passed the gate). New champions come only through evaluate_{config.name} -> "
            f"register_{config.name}.")


def servable_champion(config: PipelineConfig) -> dict[str, Any] | None:
    """The champion's :func:`registry.version_info`, or None without one; :class:`UngatedChampion` when it may
    not serve. Everything that loads ``champion`` takes it from here."""
    champion = registry.champion(config.model_name)
    if champion is None:
        return None
    problems = refusals(config, champion["tags"])
    if problems:
        raise UngatedChampion(f"{config.model_name} v{champion['version']} is the champion, but "
                              f"{' and '.join(problems)}: it is refused, nothing is scored or monitored with it. "
                              + _restore_hint(config))
    return champion


def _pending(tags: dict[str, str]) -> bool:
    return (tags.get("gate") == "passed" and tags.get("approval") == "pending") or tags.get("shadow") == "requested"


def pending_challenger(config: PipelineConfig) -> dict[str, Any] | None:
    """The newest pending challenger other than the champion, as :func:`registry.version_info`; None when
    there is none."""
    name = config.model_name
    champion = registry.alias_version(name, registry.CHAMPION)
    found = [mv for mv in registry.client().search_model_versions(f"name = '{name}'")
             if int(mv.version) != champion and _pending(dict(mv.tags))]
    if not found:
        return None
    newest = max(found, key=lambda mv: int(mv.version))
    return {"version": int(newest.version), "run_id": newest.run_id, "tags": dict(newest.tags),
            "aliases": list(newest.aliases), "source": newest.source}


def _gate_of(name: str, version: int | None) -> str:
    if version is None:
        return ""
    try:
        return f" (gate={registry.version_info(name, version)['tags'].get('gate', 'none')})"
    except registry.RegistryError:
        return " (no such version)"


def _message(config: PipelineConfig, expected: dict[str, int | None], found: dict[str, int | None],
             response: str, reverted: bool) -> str:
    name = config.model_name
    moves = [f"{alias} is {'v' + str(found[alias]) if found[alias] else 'unset'}{_gate_of(name, found[alias])} but "
             f"the pipeline last set {'v' + str(expected[alias]) if expected[alias] else 'none'}"
             for alias in expected if found[alias] != expected[alias]]
    text = (f"{name}: an alias was moved outside the pipeline: {'; '.join(moves)}. {response}. Only "
            f"register_{config.name} (after the gate) and rollback_{config.name} move the champion.")
    return text if reverted else f"{text} {_restore_hint(config)}"


def audit(config: PipelineConfig) -> dict[str, Any] | None:
    """Compare ``champion`` and ``previous`` with the pipeline's last intent; on a difference, record an
    incident (once per difference) and, under ``on_manual_alias: revert``, set the aliases back.

    Holds the champion lock, so a promotion in flight (intent written, alias not yet moved) is never
    taken for an incident. The aliases are read before the intent: where a worker shares no lock (no
    common state folder), a move in flight then shows as the pipeline's own target, which a revert only
    completes. Returns the new incident record, else None."""
    name = config.model_name
    with registry.champion_lock(name):
        aliases = {alias: registry.alias_version(name, alias) for alias in (registry.CHAMPION, registry.PREVIOUS)}
        expected = registry.expected_aliases(name)
        found = {alias: aliases[alias] for alias in expected}
        if found == expected:
            return None
        if config.governance.on_manual_alias == "alert":
            last = registry.last_record(name)
            if last.get("kind") == "incident" and last.get("found") == registry.describe_aliases(found):
                return None  # reported already: the aliases stay as they are until a person acts
            response, reverted = "Left as is (governance.on_manual_alias: alert)", False
        else:
            try:
                registry.set_aliases(name, expected)
                response, reverted = "Reverted to what the pipeline last set (governance.on_manual_alias: revert)", True
            except Exception as exc:  # the incident is recorded either way; consumers still refuse an ungated one
                response, reverted = f"Reverting failed ({type(exc).__name__}: {exc})", False
        incident = registry.record_incident(name, expected, found,
                                            _message(config, expected, found, response, reverted), response)
    log.warning("INCIDENT %s", incident["reason"])
    return incident
