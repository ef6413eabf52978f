"""A person approves promotions in Airflow: approve, reject, timeout and a superseded request, through
Airflow's REST API (``/api/v2/.../hitlDetails``), with the session's real scheduler and MLflow.

Three pipelines join the session's pipelines folder for this module, copies of its ``flights`` with
``promotion.approval: required``: ``flights_ask`` and ``flights_yes`` (a day to answer) and ``flights_late``
(about 18 s, to time out). Their model versions are the session champion's model registered again with a
passed gate; ``register_<p>`` is triggered with a version, its task ``approve`` waits in ``awaiting_input``
and the test answers as a person would (the UI's Required actions page sends the same request). The three
cases run at once, one pipeline each, so the timeout elapses while the others are answered.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import yaml

ASK, YES, LATE = "flights_ask", "flights_yes", "flights_late"
TIMEOUT_HOURS = {ASK: 24.0, YES: 24.0, LATE: 0.005}  # LATE: 18 s
PARKED = ("awaiting_input", "deferred")


def _config_text(stack, name: str) -> str:
    from mlcycle import settings

    raw = yaml.safe_load((settings.pipelines_dir() / "flights.yaml").read_text())
    raw.update(name=name, promotion={"approval": "required", "timeout_hours": TIMEOUT_HOURS[name]})
    raw["governance"] = {"audit_cron": None}
    return yaml.safe_dump(raw, sort_keys=False)


def _candidate(stack, name: str) -> int:
    """The session champion's model as a new version of ``name``, its gate passed (as evaluate leaves it)."""
    from mlcycle.core import registry

    source = registry.version_info("flights", stack.seeded["version"])
    tags = {k: v for k, v in source["tags"].items() if k.startswith(("data.", "code.", "estimator"))}
    tags.update({"gate": "passed", "gate.verdict": "promote", "gate.interval.roc_auc": "[0.0100, 0.0300] @ 0.95",
                 "gate.reasons": "all tests passed", "gate.report": "evaluation/gate_report.html"})
    registry.ensure_model(name, "approval e2e")
    mv = registry.client().create_model_version(name, source["source"], source["run_id"], tags=tags,
                                                model_id=source["source"].removeprefix("models:/"))
    return int(mv.version)


@pytest.fixture(scope="module")
def reviewed(stack):
    from mlcycle import settings

    names = (ASK, YES, LATE)
    for name in names:
        (settings.pipelines_dir() / f"{name}.yaml").write_text(_config_text(stack, name))
    stack.client.wait_for_dags([f"register_{n}" for n in names], timeout=240)
    yield SimpleNamespace(stack=stack)
    for name in names:  # the DAGs stay parsed; their files go, so later modules see the session's pipeline
        (settings.pipelines_dir() / f"{name}.yaml").unlink()


def _poll(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(1)
    raise AssertionError(f"{what} within {timeout:.0f} s")


def _trigger(stack, name: str, version: int) -> str:
    return stack.client.trigger(f"register_{name}", conf={"version": version})["dag_run_id"]


def _settled(stack, name: str, run_id: str) -> bool:
    """Whether the scheduler has processed the executor's report that the worker which parked ``approve``
    exited. A person answers minutes after a request appears; this test answers within a second, and an answer
    that resumes the task *before* that report is processed makes Airflow 3.3's scheduler fail the resumed
    task as "state changed externally" (apache/airflow#71579, open). The scheduler logs the report as
    ``TaskInstance Finished: ... state=awaiting_input``: the condition itself, not a fixed wait."""
    line = f"TaskInstance Finished: dag_id=register_{name}, task_id=approve, run_id={run_id},"
    with (stack.rt.logs / "scheduler.log").open(errors="replace") as log:
        return any(line in row and any(f"state={s}," in row for s in PARKED) for row in log)


def _parked(stack, name: str, run_id: str) -> None:
    """Wait until ``approve`` of the run waits for a person and may be answered (:func:`_settled`)."""
    path = f"/dags/register_{name}/dagRuns/{run_id}/taskInstances/approve"

    def waiting():
        return stack.client.get(path)["state"] in PARKED and _settled(stack, name, run_id)
    _poll(waiting, 180, f"register_{name} {run_id}: the approval request did not appear")


def _detail(stack, name: str, run_id: str) -> dict:
    return stack.client.get(f"/dags/register_{name}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails")


def _answer(stack, name: str, run_id: str, option: str, comment: str) -> dict:
    return stack.client.request("PATCH", f"/dags/register_{name}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails",
                                json={"chosen_options": [option], "params_input": {"comment": comment}})


def _finished(stack, name: str, run_id: str, timeout: float = 180) -> dict:
    def done():
        run = stack.client.get(f"/dags/register_{name}/dagRuns/{run_id}")
        return run["state"] in ("success", "failed") and run
    return _poll(done, timeout, f"register_{name} run {run_id} did not finish")


def _tags(name: str, version: int) -> dict[str, str]:
    from mlcycle.core import registry

    return registry.version_info(name, version)["tags"]


def test_approve_moves_the_champion_reject_records_and_a_newer_candidate_supersedes(reviewed):
    from mlcycle.core import registry
    from mlcycle.tools import runtime

    stack = reviewed.stack
    # at once: a request left unanswered (it times out), one approved, and on ASK one superseded by a newer one
    late, approved, stale, first, second = (_candidate(stack, n) for n in (LATE, YES, ASK, ASK, ASK))
    late_run, approved_run, first_run = (_trigger(stack, n, v) for n, v in ((LATE, late), (YES, approved),
                                                                             (ASK, first)))
    _parked(stack, ASK, first_run)
    second_run = _trigger(stack, ASK, second)  # a newer candidate: the first request is superseded
    detail = _detail(stack, ASK, first_run)
    assert detail["subject"] == f"Promote {ASK} v{first} to champion?"
    assert "verdict **promote**" in detail["body"]
    assert "| roc_auc | [0.0100, 0.0300] @ 0.95 |" in detail["body"]
    assert f"/reports/{ASK}/gate/v{first}" in detail["body"], "the request links to the gate report"
    assert detail["options"] == ["Approve", "Reject"]
    assert detail["defaults"] == ["Reject"]

    _parked(stack, ASK, second_run)
    assert _tags(ASK, first)["approval"] == "superseded"
    assert _tags(ASK, second)["approval"] == "pending"
    stale_run = _trigger(stack, ASK, stale)  # older than the one waiting: superseded at once, nobody is asked
    # its register task must find the newer candidate still waiting: answer that request only after it did
    _poll(lambda: _tags(ASK, stale).get("approval") == "superseded", 180, f"{ASK} v{stale} superseded at once")
    _parked(stack, YES, approved_run)
    answered = _answer(stack, ASK, second_run, "Reject", "not this week")
    assert answered["responded_by"]["name"] == runtime.USERNAME
    _answer(stack, ASK, first_run, "Approve", "too late")
    _answer(stack, YES, approved_run, "Approve", "intervals look fine")
    for name, run in ((ASK, first_run), (ASK, second_run), (YES, approved_run)):
        assert _finished(stack, name, run)["state"] == "success"

    assert _tags(ASK, first)["approval"] == "superseded", "answering a superseded request moves nothing"
    assert _finished(stack, ASK, stale_run)["state"] == "success"
    skipped = stack.client.get(f"/dags/register_{ASK}/dagRuns/{stale_run}/taskInstances/approve")
    assert skipped["state"] == "skipped", "no request for a version a newer one supersedes"
    tags = _tags(ASK, stale)
    assert (tags["approval"], tags["approval.comment"]) == ("superseded", f"superseded by v{second}, already waiting")
    tags = _tags(ASK, second)
    assert (tags["approval"], tags["approval.by"], tags["approval.comment"]) == ("rejected", runtime.USERNAME,
                                                                                 "not this week")
    assert registry.alias_version(ASK, registry.CHAMPION) is None, "a rejection moves nothing"
    assert sorted((r["action"], r["to_version"], r["by"]) for r in registry.history(ASK)) == sorted(
        [("supersede", str(second), "pipeline"), ("approval_closed", str(first), runtime.USERNAME),
         ("approval_rejected", str(second), runtime.USERNAME)])

    tags = _tags(YES, approved)
    assert (tags["approval"], tags["approval.by"], tags["approval.comment"]) == ("approved", runtime.USERNAME,
                                                                                 "intervals look fine")
    assert tags["approval.at"]
    assert registry.alias_version(YES, registry.CHAMPION) == approved, "approve moves the alias"
    assert [(r["action"], r["to_version"], r["by"]) for r in registry.history(YES)] == [
        ("approval_approved", str(approved), runtime.USERNAME), ("promote", str(approved), "")]

    # the request nobody answered: rejected by default when it times out, recorded as timedout, not asked again
    assert _finished(stack, LATE, late_run, timeout=240)["state"] == "success"
    tags = _tags(LATE, late)
    assert (tags["approval"], tags["approval.by"]) == ("timedout", "timeout")
    assert registry.alias_version(LATE, registry.CHAMPION) is None
    approve = stack.client.get(f"/dags/register_{LATE}/dagRuns/{late_run}/taskInstances/approve")
    assert approve["try_number"] == 1, "a timed-out request is not asked again"
    assert [r["action"] for r in registry.history(LATE)] == ["approval_timedout"]


def test_a_person_approves_on_airflows_required_actions_page(reviewed, browser):
    """The same answer through the UI: the task's Required actions page shows the request; Approve promotes."""
    from tests.e2e.test_ui import ARTIFACTS, UI_WAIT

    from mlcycle.core import registry
    from mlcycle.tools import runtime

    stack = reviewed.stack
    version = _candidate(stack, ASK)
    run_id = _trigger(stack, ASK, version)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_WAIT)
    page = context.new_page()
    url = f"{stack.rt.airflow_url}/dags/register_{ASK}/runs/{run_id}/tasks/approve/required_actions"
    try:  # the sign-in while the request is being made
        page.goto(url)
        page.get_by_label("Username").fill(runtime.USERNAME)
        page.get_by_label("Password").fill(stack.rt.password())
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda u: "/login" not in u)
        _parked(stack, ASK, run_id)
        page.goto(url)
        page.get_by_text(f"Promote {ASK} v{version} to champion?").first.wait_for()
        page.get_by_role("textbox").last.fill("approved in the browser")
        page.screenshot(path=str(ARTIFACTS / "approval-01-request.png"), full_page=True)
        page.get_by_role("button", name="Approve").click()
        assert _finished(stack, ASK, run_id)["state"] == "success"
        page.reload()
        page.get_by_text("Approve").first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "approval-02-answered.png"), full_page=True)
    finally:
        context.close()
    tags = _tags(ASK, version)
    assert (tags["approval"], tags["approval.by"], tags["approval.comment"]) == ("approved", "admin",
                                                                                 "approved in the browser")
    assert registry.alias_version(ASK, registry.CHAMPION) == version
