"""The governance rules without a server: the tag contract a champion must meet, the config section, the
audit DAG built from it, and the embedded stack's MLflow auth settings (MLCYCLE_MLFLOW_AUTH=1)."""

from __future__ import annotations

import configparser

import pytest

from mlcycle.core import governance
from mlcycle.core.config import ConfigError, load_config, load_pipeline


def _config(tmp_path, promotion=None, **governance_section):
    import yaml

    from mlcycle import settings

    raw = yaml.safe_load((settings.INCLUDE_DIR / "pipelines" / "flights.yaml").read_text())
    raw["governance"] = governance_section
    if promotion is not None:
        raw["promotion"] = promotion
    path = tmp_path / "flights.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


@pytest.mark.parametrize(("tags", "refused"), [
    ({"gate": "passed"}, []),
    ({"gate": "failed", "gate.reasons": "roc_auc 0.52 < 0.60"}, ["its gate verdict is 'failed' (roc_auc 0.52 < 0.60)"]),
    ({"gate": "pending"}, ["its gate verdict is 'pending'"]),
    ({}, ["its gate verdict is 'none'"]),
])
def test_only_a_version_that_passed_the_gate_may_serve(tags, refused):
    assert governance.refusals(load_pipeline("flights"), tags) == refused


def test_the_earlier_require_approval_switch_is_promotion_approval(tmp_path):
    assert _config(tmp_path, require_approval=True).promotion.approval == "required"
    assert _config(tmp_path, require_approval=False).promotion.approval == "none"
    with pytest.raises(ConfigError, match="disagree"):
        _config(tmp_path, require_approval=False, promotion={"approval": "required"})


def test_where_the_pipeline_requires_approval_the_version_must_carry_it(tmp_path):
    config = _config(tmp_path, require_approval=True)
    (refused,) = governance.refusals(config, {"gate": "passed"})
    assert refused.startswith("it is not approved (approval=none")
    assert governance.refusals(config, {"gate": "passed", "approval": "approved"}) == []
    assert len(governance.refusals(config, {"gate": "failed", "approval": "approved"})) == 1
    assert len(governance.refusals(config, {"gate": "failed"})) == 2


def test_the_governance_section_defaults_to_revert_and_a_scheduled_audit(tmp_path):
    from mlcycle.orchestration import factory

    default = load_pipeline("flights").governance
    assert (default.on_manual_alias, default.audit_cron) == ("revert", "*/10 * * * *")
    assert load_pipeline("flights").promotion.approval == "none"
    assert "audit" in load_pipeline("flights").stages
    manual = _config(tmp_path, on_manual_alias="alert", audit_cron=None)
    dag = factory.audit_dag(manual)
    assert dag.dag_id == "audit_flights"
    assert dag.schedule is None
    assert "left as is" in dag.doc_md
    with pytest.raises(ConfigError, match="on_manual_alias"):
        _config(tmp_path, on_manual_alias="ignore")


def test_embedded_mlflow_auth_is_one_setting_and_keeps_its_secrets_in_the_state_folder(tmp_path, monkeypatch):
    from mlcycle.tools import runtime, stack

    monkeypatch.delenv("MLCYCLE_MLFLOW_AUTH", raising=False)
    assert not runtime.Runtime.from_env().mlflow_auth
    monkeypatch.setenv("MLCYCLE_MLFLOW_AUTH", "1")
    rt = runtime.Runtime.from_env()
    assert rt.mlflow_auth
    rt = runtime.Runtime(home=tmp_path, mlflow_port=5123, mlflow_auth=True)
    components = {c["name"]: c for c in rt.components()}
    command = components["mlflow"]["argv"]
    assert command[command.index("--app-name") + 1] == "basic-auth"
    assert command[command.index("--host") + 1] == "127.0.0.1", "still on loopback only"
    assert "--app-name" not in stack.mlflow_command(5123, "sqlite:///x.db", "/tmp/a")

    generated = rt.mlflow_secrets()
    assert generated == runtime.Runtime(home=tmp_path, mlflow_auth=True).mlflow_secrets(), "generated once"
    assert oct((tmp_path / "mlflow" / "auth.json").stat().st_mode & 0o777) == "0o600"
    assert rt.client_env() == {"MLFLOW_TRACKING_URI": "http://127.0.0.1:5123",
                               "MLFLOW_TRACKING_USERNAME": "mlcycle-pipeline",
                               "MLFLOW_TRACKING_PASSWORD": generated["service"]}
    assert all("MLFLOW_AUTH_ADMIN_PASSWORD" not in c.get("env", {}) for name, c in components.items()
               if name != "mlflow"), "the admin password and the secret key go to MLflow alone"
    assert "MLFLOW_AUTH_ADMIN_PASSWORD" not in rt.env()
    server = components["mlflow"]["env"]
    assert server["MLFLOW_AUTH_ADMIN_PASSWORD"] == generated["admin"]
    assert server["MLFLOW_FLASK_SERVER_SECRET_KEY"] == generated["secret_key"]
    ini = configparser.ConfigParser()
    ini.read(server["MLFLOW_AUTH_CONFIG_PATH"])
    assert ini["mlflow"]["default_permission"] == "READ"
    assert ini["mlflow"]["database_uri"] == f"sqlite:///{tmp_path / 'mlflow' / 'auth.db'}"
    assert generated["admin"] not in (tmp_path / "mlflow" / "basic_auth.ini").read_text()
