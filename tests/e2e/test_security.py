"""Who can move the champion, on the session's embedded stack with MLflow behind its basic-auth app.

The stack is started as ``MLCYCLE_MLFLOW_AUTH=1`` starts it (tests/e2e/conftest.py). Its scheduler runs
the whole pipeline with the service account in ``test_scheduler_chain`` (this module runs after it):
ingest to register, with a drift-triggered training promoted or rejected by the gate. Here:

- an anonymous call to the registry, the issue's one-call attack, gets 401 and changes nothing;
- a user with the default permission reads the registry but cannot set or delete an alias, or tag a version;
- the service account holds MANAGE on the pipeline's model, and no password reaches a log.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
ALIAS = "/api/2.0/mlflow/registered-models/alias"


def _admin(stack) -> tuple[str, str]:
    from mlcycle.tools import runtime

    return runtime.USERNAME, stack.rt.mlflow_secrets()[runtime.USERNAME]


def _champion() -> int | None:
    from mlcycle.core import registry

    return registry.alias_version("flights", registry.CHAMPION)


def test_an_anonymous_registry_call_is_refused(stack):
    champion = _champion()
    move = httpx.post(f"{stack.rt.mlflow_url}{ALIAS}", json={"name": "flights", "alias": "champion",
                                                            "version": str(stack.seeded["version"])})
    assert move.status_code == 401, move.text
    assert httpx.get(f"{stack.rt.mlflow_url}/api/2.0/mlflow/registered-models/get",
                     params={"name": "flights"}).status_code == 401, "anonymous users do not even read"
    assert _champion() == champion


def test_a_user_with_the_default_permission_reads_but_cannot_move_the_champion(stack):
    url = stack.rt.mlflow_url
    analyst = ("analyst", secrets.token_urlsafe(16))
    created = httpx.post(f"{url}/api/2.0/mlflow/users/create", auth=_admin(stack),
                         json={"username": analyst[0], "password": analyst[1]})
    assert created.status_code == 200, created.text
    champion = _champion()
    with httpx.Client(base_url=url, auth=analyst, timeout=30) as person:
        read = person.get(f"{ALIAS}", params={"name": "flights", "alias": "champion"})
        assert read.status_code == 200, read.text
        assert int(read.json()["model_version"]["version"]) == champion
        target = {"name": "flights", "alias": "champion", "version": str(stack.seeded["version"])}
        for alias in (ALIAS, ALIAS.replace("/api/", "/ajax-api/")):  # the REST API, and the UI's alias editor
            assert person.post(alias, json=target).status_code == 403
            assert person.request("DELETE", alias, params={"name": "flights", "alias": "champion"}).status_code == 403
        tag = {"name": "flights", "version": str(champion), "key": "gate", "value": "passed"}
        assert person.post("/api/2.0/mlflow/model-versions/set-tag", json=tag).status_code == 403
    assert _champion() == champion


def test_the_pipeline_writes_as_its_service_account_and_no_password_reaches_a_log(stack):
    service, password = stack.rt.service_account()
    assert stack.rt.env()["MLFLOW_TRACKING_USERNAME"] == service  # what the scheduler's tasks inherit
    granted = httpx.get(f"{stack.rt.mlflow_url}/api/3.0/mlflow/users/permissions/get", auth=_admin(stack),
                        params={"username": service, "resource_type": "registered_model", "resource_id": "flights"})
    assert granted.json()["permission"] == "MANAGE", granted.text

    task_logs = [p for p in (stack.rt.airflow_home / "logs").rglob("*") if p.is_file()]
    assert any("register_flights" in str(p) for p in task_logs), "the scheduler ran the pipeline (test_scheduler_chain)"
    logs = [*task_logs, *(p for p in (stack.rt.home / "logs").rglob("*") if p.is_file())]
    for secret in (password, _admin(stack)[1]):
        leaked = [str(p) for p in logs if secret in Path(p).read_text(errors="replace")]
        assert not leaked, f"a password is in {leaked}"
