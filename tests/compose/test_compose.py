"""docker-compose.yaml against a real compose parser (Debian's docker-compose runs `config` without an
engine) and against .env.example: every variable documented, no secret with a default."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
SECRET = re.compile(r"PASSWORD|SECRET|FERNET|_KEY|^AIRFLOW_CONN_|^MINIO_ROOT_USER$|^MLFLOW_ADMIN_USERNAME$")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; $${...} is for the container's shell
REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
SERVICES = {"postgres", "redis", "minio", "minio-init", "mlflow", "mlflow-init", "airflow-init", "airflow-api-server",
            "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker", "serving",
            "mlcycle-exporter", "statsd-exporter", "prometheus", "grafana"}
ONE_SHOTS = {"minio-init", "mlflow-init", "airflow-init"}


def _references() -> dict[str, set[str]]:
    """Each variable the compose file interpolates, with the operators it is used with ('' = none)."""
    found: dict[str, set[str]] = {}
    for name, operator, _ in REFERENCE.findall(COMPOSE.read_text()):
        found.setdefault(name, set()).add(operator)
    return found


SECRETS = sorted(name for name in _references() if SECRET.search(name))


def _documented() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def _compose(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`docker-compose config` on a copy of the file, with only ``env`` as its .env and environment."""
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `make test` installs Debian's package (apt-get install docker-compose)"
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yaml")
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return subprocess.run([binary, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin"}, check=False)


def _secrets_filled() -> dict[str, str]:
    values = {name: f"test-{name.lower()}-0123456789abcdef" for name in SECRETS}
    values["AIRFLOW_CONN_AWS_DEFAULT"] = ('{"conn_type":"aws","login":"mlcycle","password":"x",'
                                         '"extra":{"endpoint_url":"http://minio:9000"}}')
    return values


def test_every_variable_of_the_compose_file_is_documented_in_env_example():
    missing = sorted(set(_references()) - _documented())
    assert not missing, f"document these in .env.example: {missing}"


def test_no_secret_has_a_default():
    assert {"POSTGRES_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY",
            "REDIS_PASSWORD", "AIRFLOW_CONN_AWS_DEFAULT", "MLFLOW_ADMIN_USERNAME", "MLFLOW_ADMIN_PASSWORD",
            "MLFLOW_AUTH_SECRET_KEY", "MLFLOW_AUTH_DB_PASSWORD", "MLFLOW_PIPELINE_PASSWORD",
            "GRAFANA_ADMIN_PASSWORD"} <= set(SECRETS)
    for name in SECRETS:
        operators = _references()[name]
        assert ":?" in operators, f"{name} must be required: ${{{name}:?...}}"
        assert operators <= {":?", ""}, f"{name} may not have a default, got {operators}"
    example = dict(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert all(example.get(name, "") == "" for name in SECRETS), ".env.example must leave every secret blank"


def test_compose_file_validates_with_every_secret_set(tmp_path):
    result = _compose(tmp_path, _secrets_filled())
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert name in ONE_SHOTS or "healthcheck" in service, f"{name} has no healthcheck"
        for dependency, condition in (service.get("depends_on") or {}).items():
            expected = "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
            assert condition["condition"] == expected, (name, dependency, condition)
    airflow = services["airflow-scheduler"]["environment"]
    assert airflow["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert airflow["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")
    assert airflow["MLCYCLE_LAKE_URI"].startswith("s3://")
    assert airflow["MLCYCLE_DVC_REMOTE"].startswith("s3://")
    assert "endpoint_url" in airflow["AIRFLOW_CONN_AWS_DEFAULT"]
    assert any("--artifacts-destination=s3://" in arg for arg in services["mlflow"]["command"])


@pytest.mark.parametrize("secret", SECRETS)
def test_compose_refuses_to_start_without_a_secret(tmp_path, secret):
    result = _compose(tmp_path, {**_secrets_filled(), secret: ""})
    assert result.returncode != 0, f"compose accepted an empty {secret}"
    assert secret in result.stderr, result.stderr


def test_mlflow_runs_behind_its_auth_app_and_airflow_reaches_it_as_the_service_account(tmp_path):
    """Anonymous requests refused, READ by default, admin and service account from .env, no secret in a file."""
    import configparser

    from mlflow.server.auth import config as auth_config

    services = yaml.safe_load(_compose(tmp_path, _secrets_filled()).stdout)["services"]
    mlflow = services["mlflow"]
    assert "--app-name=basic-auth" in mlflow["command"]
    env = mlflow["environment"]
    assert env["MLFLOW_AUTH_ADMIN_USERNAME"] == _secrets_filled()["MLFLOW_ADMIN_USERNAME"]
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] == _secrets_filled()["MLFLOW_ADMIN_PASSWORD"]
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == _secrets_filled()["MLFLOW_AUTH_SECRET_KEY"]
    assert env["PGPASSWORD"] == _secrets_filled()["MLFLOW_AUTH_DB_PASSWORD"]
    (mount,) = [v.split(":") for v in mlflow["volumes"] if f":{env['MLFLOW_AUTH_CONFIG_PATH']}:" in v]
    ini = Path(mount[0])
    assert ini.parts[-3:] == ("docker", "mlflow", "basic_auth.ini")
    assert mount[2] == "ro"
    parsed = configparser.ConfigParser()
    parsed.read(REPO / "docker" / "mlflow" / ini.name)
    assert not {"admin_username", "admin_password"} & set(parsed["mlflow"]), "credentials come from .env only"
    with pytest.MonkeyPatch.context() as patch:  # as the server reads it
        patch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(REPO / "docker" / "mlflow" / ini.name))
        patch.setenv("MLFLOW_AUTH_ADMIN_USERNAME", "admin-from-env")
        read = auth_config.read_auth_config()
    assert read.default_permission == "READ"
    assert read.admin_username == "admin-from-env"
    assert read.database_uri == "postgresql+psycopg2://mlflow_auth@postgres:5432/mlflow_auth"  # its own DB and role
    assert "mlflow_auth_pw" in (REPO / "docker" / "postgres" / "init-databases.sh").read_text()

    init = services["mlflow-init"]
    assert init["entrypoint"] == ["python", "-m", "mlcycle.tools.mlflow_auth"]
    assert init["depends_on"]["mlflow"]["condition"] == "service_healthy"
    for name in ("airflow-scheduler", "airflow-worker", "airflow-triggerer"):
        airflow, account = services[name], init["environment"]
        assert airflow["environment"]["MLFLOW_TRACKING_USERNAME"] == account["MLCYCLE_MLFLOW_SERVICE_USERNAME"]
        assert airflow["environment"]["MLFLOW_TRACKING_PASSWORD"] == account["MLCYCLE_MLFLOW_SERVICE_PASSWORD"]
        assert account["MLCYCLE_MLFLOW_SERVICE_PASSWORD"] == _secrets_filled()["MLFLOW_PIPELINE_PASSWORD"]
        assert airflow["depends_on"]["mlflow-init"]["condition"] == "service_completed_successfully"


def test_the_serving_app_has_a_healthcheck_an_api_key_from_env_and_is_told_of_promotions(tmp_path):
    services = yaml.safe_load(_compose(tmp_path, _secrets_filled()).stdout)["services"]
    serving = services["serving"]
    assert serving["entrypoint"] == ["python", "-m", "mlcycle.serving"]
    assert "http://localhost:8000/health" in serving["healthcheck"]["test"]
    assert serving["environment"]["MLCYCLE_SERVING_API_KEY"] == _secrets_filled()["MLCYCLE_SERVING_API_KEY"]
    assert serving["environment"]["MLCYCLE_SERVING_HOST"] == "0.0.0.0"
    for name in ("airflow-worker", "airflow-scheduler"):  # register and rollback run there and notify it
        assert services[name]["environment"]["MLCYCLE_SERVING_URL"] == "http://serving:8000"
        assert services[name]["environment"]["MLCYCLE_SERVING_API_KEY"] == _secrets_filled()["MLCYCLE_SERVING_API_KEY"]


def test_prometheus_and_grafana_are_provisioned_from_the_repository(tmp_path):
    """Prometheus' config and rules and Grafana's datasource and dashboards are files of the repository."""
    services = yaml.safe_load(_compose(tmp_path, _secrets_filled()).stdout)["services"]
    observability = REPO / "include" / "observability"
    mounts = {name: {v.split(":")[1]: Path(v.split(":")[0]) for v in services[name]["volumes"] if ":/etc/" in v}
              for name in ("prometheus", "grafana", "statsd-exporter")}
    assert mounts["prometheus"]["/etc/prometheus/prometheus.yml"].name == "prometheus.yml"
    assert mounts["prometheus"]["/etc/prometheus/rules.yml"].name == "rules.yml"
    assert mounts["grafana"]["/etc/grafana/provisioning"].parts[-3:] == ("observability", "grafana", "provisioning")
    scraped = yaml.safe_load((observability / "prometheus" / "prometheus.yml").read_text())
    targets = {c["job_name"]: c["static_configs"][0]["targets"][0] for c in scraped["scrape_configs"]}
    exporter_port = services["mlcycle-exporter"]["environment"]["MLCYCLE_EXPORTER_PORT"]
    assert targets["mlcycle"] == f"mlcycle-exporter:{exporter_port}"
    assert targets["airflow"].startswith("statsd-exporter:")
    airflow = services["airflow-scheduler"]["environment"]
    assert airflow["AIRFLOW__METRICS__STATSD_ON"] == "True"
    assert airflow["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter"
    provider = yaml.safe_load((observability / "grafana" / "provisioning" / "dashboards" / "mlcycle.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    grafana = services["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == _secrets_filled()["GRAFANA_ADMIN_PASSWORD"]
    for image in (services[n]["image"] for n in ("prometheus", "grafana", "statsd-exporter")):
        assert re.search(r":v?\d+\.\d+\.\d+$", image), f"{image}: pin an exact tag"


def test_every_image_of_another_project_is_pinned_to_an_exact_tag():
    """No ``latest`` or moving minor tag: a rebuild months later starts the same servers."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    images = {name: s["image"] for name, s in services.items() if "image" in s and "MLCYCLE_IMAGE" not in s["image"]}
    assert images, "compose names the images of Postgres, Redis and MinIO"
    for name, image in images.items():
        tag = image.rpartition(":")[2]
        assert ":" in image, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} is not pinned"
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", tag), f"{name}: {image}"
        if re.fullmatch(r"v?[\d.]+", tag):
            assert tag.count(".") >= 1 + (name == "redis"), f"{name}: {image} moves with each patch release"
