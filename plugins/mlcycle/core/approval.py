"""A person's approval of a promotion, as version tags and in the promotion history.

Where a pipeline sets ``promotion.approval: required``, a version that passed the gate is not promoted
at once: :func:`request` tags it ``approval=pending`` (with where the request waits, ``approval.request``)
and the approval task of ``register_<p>`` asks a person in Airflow. The answer is :func:`record`\\ ed:
``approved`` (then the pipeline promotes it), ``rejected`` or ``timedout`` (nothing moves), each with
``approval.by``, ``approval.at`` and ``approval.comment``, and a record in ``<model>-promotions``.

A newer candidate supersedes an older one still waiting: the older is tagged ``approval=superseded``
(comment: by which version) and recorded. Its request in Airflow then only closes: an answer to it, or
its timeout, is recorded against it but moves nothing. Where no approval is required, a version that
passed the gate is tagged ``approval=not_required``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from mlcycle.core import registry
from mlcycle.core.tracking import TAG_LIMIT, client

log = logging.getLogger(__name__)
PENDING, APPROVED, REJECTED, TIMEDOUT, SUPERSEDED, NOT_REQUIRED = (
    "pending", "approved", "rejected", "timedout", "superseded", "not_required")
ANSWERS = (APPROVED, REJECTED, TIMEDOUT)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _tag(name: str, version: int, tags: dict[str, str]) -> None:
    mlflow_client = client()
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, str(version), key, value[:TAG_LIMIT])


def waiting(name: str) -> list[int]:
    """Versions of ``name`` whose approval is pending, oldest first."""
    found = client().search_model_versions(f"name = '{name}' and tags.approval = '{PENDING}'")
    return sorted(int(mv.version) for mv in found)


def request(name: str, version: int, where: str) -> list[int]:
    """Mark ``version`` as waiting for a person (``where``: dag/run/task of the request); every older version
    still waiting is superseded and recorded. Returns the superseded versions."""
    with registry.champion_lock(name):
        older = [v for v in waiting(name) if v < version]
        for old in older:
            _tag(name, old, {"approval": SUPERSEDED, "approval.at": _now(), "approval.by": "pipeline",
                             "approval.comment": f"superseded by v{version}, which passed the gate later"})
            registry.record_action(name, "supersede", old, version,
                                   f"v{old} waited for approval; v{version} passed the gate later and replaces the "
                                   f"request (the request of v{old} closes: answering it moves nothing)",
                                   {"by": "pipeline"})
        newer = [v for v in waiting(name) if v > version]
        if newer:  # a later candidate already waits: this one is superseded at once
            _tag(name, version, {"approval": SUPERSEDED, "approval.at": _now(), "approval.by": "pipeline",
                                 "approval.comment": f"superseded by v{newer[-1]}, already waiting"})
            return [version]
        _tag(name, version, {"approval": PENDING, "approval.request": where, "approval.requested_at": _now()})
    log.info("%s v%s waits for approval (%s); superseded %s", name, version, where, older)
    return older


def not_required(name: str, version: int) -> None:
    _tag(name, version, {"approval": NOT_REQUIRED})


def record(name: str, version: int, outcome: str, by: str, comment: str = "", airflow_run: str = "") -> dict[str, Any]:
    """A person's answer (or the timeout) on the version's tags and in the promotion history.

    An answer to a superseded request is recorded in the history only: the version stays superseded.
    Returns the record, with ``approval``: the version's approval tag afterwards."""
    if outcome not in ANSWERS:
        raise ValueError(f"approval outcome must be one of {ANSWERS}, not {outcome!r}")
    current = registry.version_info(name, version)["tags"].get("approval", "")
    at = _now()
    if current == SUPERSEDED:
        reason = f"the request of v{version} was answered ({outcome}) after it was superseded: nothing moves"
        record = registry.record_action(name, "approval_closed", None, version, reason,
                                        {"by": by, "comment": comment, "airflow_run": airflow_run})
        return {**record, "approval": SUPERSEDED}
    _tag(name, version, {"approval": outcome, "approval.by": by, "approval.at": at, "approval.comment": comment})
    what = {APPROVED: "approved", REJECTED: "rejected", TIMEDOUT: "not answered in time (rejected by default)"}
    reason = f"v{version} {what[outcome]} by {by}" + (f": {comment}" if comment else "")
    record = registry.record_action(name, f"approval_{outcome}", None, version, reason,
                                    {"by": by, "comment": comment, "airflow_run": airflow_run})
    return {**record, "approval": outcome}
