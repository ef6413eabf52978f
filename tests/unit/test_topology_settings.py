"""One source of truth: what docker-compose.yaml declares is what the native production topology runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mlcycle.tools import compose_env

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def compose_copy(tmp_path: Path) -> Path:
    """A copy of the repository's compose file and .env.example, to change."""
    for name in ("docker-compose.yaml", ".env.example"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "docker", tmp_path / "docker")
    return tmp_path / "docker-compose.yaml"


def _topology(compose: Path, home: Path):
    from mlcycle.tools.topology import Topology

    return Topology(home, {"api": 18080, "mlflow": 15000}, compose_file=compose)


def test_a_value_changed_in_compose_reaches_every_native_airflow_component_and_redis(compose_copy, tmp_path):
    text = compose_copy.read_text()
    text = text.replace('AIRFLOW__CORE__LOAD_EXAMPLES: "False"',
                        'AIRFLOW__CORE__LOAD_EXAMPLES: "False"\n    AIRFLOW__CORE__PARALLELISM: "7"')
    text = text.replace('AIRFLOW__CELERY__WORKER_CONCURRENCY: ${AIRFLOW_WORKER_CONCURRENCY:-2}',
                        'AIRFLOW__CELERY__WORKER_CONCURRENCY: ${AIRFLOW_WORKER_CONCURRENCY:-3}')
    text = text.replace('"--appendonly", "yes"]', '"--appendonly", "yes", "--maxmemory", "64mb"]')
    compose_copy.write_text(text)
    components = {c["name"]: c for c in _topology(compose_copy, tmp_path / "home").components()}

    for name in ("api-server", "scheduler", "dag-processor", "triggerer", "worker-1", "worker-2", "airflow-init"):
        assert components[name]["env"]["AIRFLOW__CORE__PARALLELISM"] == "7", name
        assert components[name]["env"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert components["worker-1"]["env"]["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "3"
    assert components["redis"]["argv"][-12:-10] == ["--maxmemory", "64mb"] or "64mb" in components["redis"]["argv"]


def test_compose_addresses_become_loopback_and_secrets_compose_requires_are_generated(compose_copy, tmp_path):
    t = _topology(compose_copy, tmp_path / "home")
    env = t.airflow_env("airflow-worker")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        f"postgresql+psycopg2://airflow:{t.variables['AIRFLOW_DB_PASSWORD']}@127.0.0.1:{t.port['postgres']}/airflow")
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{t.variables['REDIS_PASSWORD']}@127.0.0.1:{t.port['redis']}/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:15000"
    assert f'"endpoint_url": "http://127.0.0.1:{t.port["s3"]}"' in env["AIRFLOW_CONN_AWS_DEFAULT"]
    required = compose_env.required(yaml.safe_load(compose_copy.read_text()))
    assert {"REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "MLFLOW_AUTH_DB_PASSWORD"} <= required
    assert all(t.variables[name] for name in required)
    again = _topology(compose_copy, tmp_path / "home")
    assert again.variables["REDIS_PASSWORD"] == t.variables["REDIS_PASSWORD"], "secrets are generated once"
    mlflow = next(c for c in t.components() if c["name"] == "mlflow")
    assert "--host=127.0.0.1" in mlflow["argv"]
    assert "--port=15000" in mlflow["argv"]
    ini = Path(mlflow["env"]["MLFLOW_AUTH_CONFIG_PATH"]).read_text()
    assert f"@127.0.0.1:{t.port['postgres']}/mlflow_auth" in ini, "the mounted config names loopback too"


def test_interpolation_follows_compose():
    variables = {"SET": "x", "EMPTY": ""}
    assert compose_env.interpolate("$$SET ${SET} $SET ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d}",
                                   variables) == "$SET x x d d "
    with pytest.raises(compose_env.ComposeError, match="EMPTY is required: set it in .env"):
        compose_env.interpolate("${EMPTY:?set it in .env}", variables, "services.redis")
    assert compose_env.loopback("redis://:pw@redis:6379/0 http://mlflow:5000 mlflow:* redis:63790",
                                {"redis:6379": 1, "mlflow:5000": 2}) == (
        "redis://:pw@127.0.0.1:1/0 http://127.0.0.1:2 mlflow:* redis:63790")


def test_an_unreachable_mlflow_is_retried_while_an_unknown_version_fails_at_once(monkeypatch):
    """Found on the topology: MLflow down during register read as "no version 4", and failed without a retry."""
    from types import SimpleNamespace

    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ErrorCode

    from mlcycle.core import registry
    from mlcycle.errors import DataError

    def failing(code: str):
        def get_model_version(name, version):
            raise MlflowException("API request failed: connection refused", error_code=ErrorCode.Value(code))
        return lambda: SimpleNamespace(get_model_version=get_model_version)

    monkeypatch.setattr(registry, "client", failing("INTERNAL_ERROR"))
    with pytest.raises(registry.RegistryUnavailable, match="could not answer") as down:
        registry.version_info("flights", 4)
    assert not isinstance(down.value, DataError), "a DataError fails the task without a retry"
    monkeypatch.setattr(registry, "client", failing("RESOURCE_DOES_NOT_EXIST"))
    with pytest.raises(registry.RegistryError, match="has no version 4"):
        registry.version_info("flights", 4)
