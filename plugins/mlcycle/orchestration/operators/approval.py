"""A person approves a promotion: Airflow's human-in-the-loop ``ApprovalOperator`` after the gate passed.

Used by ``register_<p>`` where the pipeline sets ``promotion.approval: required``. The ``register`` task
marks the version ``approval=pending`` (:mod:`mlcycle.core.approval`); this task then asks in Airflow's
*Required actions*, showing the gate's verdict, the intervals and a link to the report. How the
standard provider's operator behaves, and what this one does about it:

- a timeout without ``defaults`` fails the task, and a retry would ask again: ``defaults`` is *Reject*
  and ``retries`` is 0, so an unanswered request ends as ``approval=timedout``;
- *Reject* only skips downstream tasks: the answer is recorded here (tags and promotion history), and
  *Approve* promotes here too (the champion lock serialises it with other moves);
- a version superseded before its request is made (a newer candidate already waits) is not asked about:
  the task is skipped. One superseded while its request waits keeps the request open in Airflow (a task
  cannot answer another task's request; see the README): answering it records ``approval_closed`` and
  moves nothing;
- ``dag.test()`` waits for an answer forever: no ``dag.test()``-based test runs a pipeline that requires
  approval.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Context, Param
from airflow.sdk.exceptions import AirflowSkipException


def request_text(config, version: int, tags: dict[str, str], report: str) -> tuple[str, str]:
    """The subject and the Markdown body of the request: verdict, intervals, tests and the report's link."""
    intervals = {k.removeprefix("gate.interval."): v for k, v in tags.items() if k.startswith("gate.interval.")}
    tests = sorted(v for k, v in tags.items() if k.startswith("gate.test."))
    rows = [f"| {metric} | {text} |" for metric, text in sorted(intervals.items())] or ["| (no champion) | |"]
    lines = [f"**{config.model_name} v{version}** passed the gate: verdict **{tags.get('gate.verdict', '?')}**.", "",
             "| compared metric | challenger − champion (positive: better) |", "|---|---|",
             *rows,
             "", "Tests:" if tests else "Tests: none recorded.", *[f"- {t}" for t in tests], "",
             f"Trained on {tags.get('data.window', '?')} ({tags.get('data.rows', '?')} rows), data md5 "
             f"{tags.get('data.md5', '?')}, estimator {tags.get('estimator', '?')}.", "",
             f"[Gate report]({report}) · Approve: `champion` moves to v{version}. Reject, or no answer within "
             f"{config.promotion.timeout_hours:g} h: recorded, nothing moves."]
    return f"Promote {config.model_name} v{version} to champion?", "\n".join(lines)


class PromotionApprovalOperator(ApprovalOperator):
    """Ask a person to approve the version the upstream ``register`` task left waiting; record the answer."""

    ui_color = "#fef3c7"

    def __init__(self, *, pipeline: str, timeout_hours: float, upstream: str = "register", **kwargs: Any) -> None:
        kwargs.setdefault("subject", f"Promote a {pipeline} version to champion?")
        kwargs.pop("params", None)  # the DAG's (version, reason): not a question to the approver
        kwargs.update(retries=0, defaults=ApprovalOperator.REJECT, response_timeout=dt.timedelta(hours=timeout_hours))
        comment = Param("", type="string", title="Comment", description="Why (the form requires it); recorded "
                                                                        "with your answer.")
        super().__init__(params={"comment": comment}, **kwargs)
        self.pipeline = pipeline
        self.upstream = upstream

    @functools.cached_property
    def config(self):
        from mlcycle.core.config import load_pipeline

        return load_pipeline(self.pipeline)

    def _waiting_version(self, context: Context) -> int:
        results = context["ti"].xcom_pull(task_ids=self.upstream) or []
        waiting = [int(r["to_version"]) for r in results if r.get("action") == "await_approval"]
        if not waiting:
            raise AirflowSkipException("no version of this run waits for approval")
        return waiting[-1]

    def execute(self, context: Context) -> Any:
        from mlcycle.core import approval, registry
        from mlcycle.orchestration import links

        version = self._waiting_version(context)
        tags = registry.version_info(self.config.model_name, version)["tags"]
        if tags.get("approval") == approval.SUPERSEDED:  # a newer candidate waits already: nobody is asked
            raise AirflowSkipException(f"v{version} is superseded ({tags.get('approval.comment', '')}): "
                                       "no request is made")
        self.subject, self.body = request_text(self.config, version, tags,
                                               links.report_url(self.config.name, f"gate/v{version}"))
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from mlcycle.stages import modelling

        answer = super().execute_complete(context=context, event=event)
        version = self._waiting_version(context)
        approved = answer["chosen_options"] == [self.APPROVE]
        outcome = "timedout" if event.get("timedout") else "approved" if approved else "rejected"
        user = answer.get("responded_by_user") or {}
        by = user.get("name") or user.get("id") or ("timeout" if outcome == "timedout" else "unknown")
        comment = str((answer.get("params_input") or {}).get("comment") or "")
        record = modelling.answer_approval(self.config, version, outcome, by, comment, context["run_id"])
        self.log.info("v%s: %s by %s; champion is v%s", version, record.get("approval", outcome), by,
                      record.get("champion"))
        return record
