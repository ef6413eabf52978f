"""The production topology of docker-compose.yaml, run as native processes on this machine (no Docker).

Every setting comes from the compose file (:mod:`mlcycle.tools.compose_env`): each service's environment,
command and entrypoint, with ``.env.example`` (and ``.env`` for ``make prod-local``) as compose's
variables. Secrets compose requires and no file sets are generated once per state folder. The only
changes are those a host needs instead of a container network: host names to 127.0.0.1 and free ports,
container paths to folders under the state folder.

=================  =========================================================================
compose service    native counterpart (one supervised process each, :mod:`~mlcycle.tools.supervisor`)
=================  =========================================================================
postgres           the embedded PostgreSQL (:mod:`~mlcycle.tools.postgres`), TCP on 127.0.0.1, passwords
                   for TCP; ``postgres-init`` runs docker/postgres/init-databases.sh once (its roles)
redis              Debian's ``redis-server`` with compose's command (password, append-only file)
minio, minio-init  moto's server (S3 and SQS); ``s3-init`` makes the buckets of minio-init's ``mc mb``
mlflow, -init      ``mlflow server`` with compose's arguments; ``python -m mlcycle.tools.mlflow_auth``
airflow-init       compose's script (``bash -c``): migrate, FAB admin user, promotion pool
airflow-*          ``airflow api-server|scheduler|dag-processor|triggerer``, two ``airflow celery worker``
=================  =========================================================================

``python -m mlcycle.tools.topology {start,stop,status,buckets}`` (``make prod-local`` starts it).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from mlcycle import settings
from mlcycle.tools import compose_env, postgres, stack
from mlcycle.tools.runtime import _generated

COMPOSE = settings.REPO_ROOT / "docker-compose.yaml"
# compose's addresses (service:container port) and the name of their native port
ADDRESSES = {"postgres:5432": "postgres", "redis:6379": "redis", "minio:9000": "s3", "mlflow:5000": "mlflow",
             "airflow-api-server:8080": "api"}
PORTS = ("postgres", "redis", "s3", "moto", "mlflow", "api", "scheduler-health")
WORKERS = ("worker-1", "worker-2")
AIRFLOW_SERVICES = {"api-server": "airflow-api-server", "scheduler": "airflow-scheduler",
                    "dag-processor": "airflow-dag-processor", "triggerer": "airflow-triggerer"}
SKIP_LOG_SERVER = {"scheduler", "triggerer"}
USERNAME_VARIABLE, PASSWORD_VARIABLE = "_AIRFLOW_ADMIN_USERNAME", "_AIRFLOW_ADMIN_PASSWORD"


class TopologyError(RuntimeError):
    """The topology cannot start; the message says why and what to do."""


@dataclass
class Topology:
    """One native production topology, its state under ``home``, on ports chosen once per state folder."""

    home: Path
    ports_wanted: Mapping[str, int] = field(default_factory=dict)  # e.g. {"api": 8080}; the rest: free ports
    config: Mapping[str, str] = field(default_factory=dict)  # more Airflow settings (tests: short timeouts)
    dotenv: bool = False  # read <repo>/.env too (make prod-local); tests read .env.example only
    compose_file: Path = COMPOSE
    s3_proxy: bool = False  # clients reach moto through a loopback proxy that can fail (fault tests)
    database: str = "postgres"  # what tools/control.py asks of a stack
    embedded_postgres: bool = False  # initdb is done here, with passwords for TCP clients

    # --- places -------------------------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def state(self) -> Path:
        return self.home / "state"  # compose's volume mlcycle-state (MLCYCLE_HOME)

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @cached_property
    def port(self) -> dict[str, int]:
        """The native port of each service, picked once per state folder and kept in ``ports.json``."""
        path = self.home / "ports.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        known.update(self.ports_wanted)
        for name in PORTS:
            known.setdefault(name, stack.free_port())
        self.home.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known))
        return {**known, "s3": known["s3"] if self.s3_proxy else known["moto"]}  # without the proxy: moto

    def ports(self) -> dict[str, int]:
        return {name: self.port[name] for name in PORTS if name != "s3" or self.s3_proxy}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port[name]}"

    @property
    def airflow_url(self) -> str:
        return self.url("api")

    @property
    def mlflow_url(self) -> str:
        return self.url("mlflow")

    # --- settings -----------------------------------------------------------------------------------------
    @cached_property
    def compose(self) -> dict[str, Any]:
        return compose_env.load(self.compose_file)

    @cached_property
    def variables(self) -> dict[str, str]:
        """compose's variables: .env.example, .env, then generated secrets, then what loopback needs."""
        folder = self.compose_file.parent
        known = {**compose_env.env_file(folder / ".env.example"),
                 **(compose_env.env_file(folder / ".env") if self.dotenv else {})}
        missing = sorted(compose_env.required(self.compose) - set(known))
        generated = _generated(self.home / "secrets.json", *missing, make=lambda: secrets.token_hex(24))
        known.update({name: value for name, value in generated.items() if name in missing})
        if "AIRFLOW_FERNET_KEY" in missing:  # a Fernet key: 32 random bytes, URL-safe base64
            key = self.home / "fernet.key"
            if not key.exists():
                key.touch(mode=0o600)
                key.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
            known["AIRFLOW_FERNET_KEY"] = key.read_text()
        s3_user, s3_password = known["MINIO_ROOT_USER"], known["MINIO_ROOT_PASSWORD"]
        derived = {"MLFLOW_S3_ACCESS_KEY_ID": s3_user, "MLFLOW_S3_SECRET_ACCESS_KEY": s3_password,
                   "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
                       "conn_type": "aws", "login": s3_user, "password": s3_password,
                       "extra": {"endpoint_url": "http://minio:9000", "region_name": "us-east-1"}})}
        known.update({k: v for k, v in derived.items() if k in missing})
        known.update({"AIRFLOW_BASE_URL": self.airflow_url, "MLFLOW_UI_URL": self.mlflow_url})
        return known

    @property
    def addresses(self) -> dict[str, int]:
        return {address: self.port[name] for address, name in ADDRESSES.items()}

    def service(self, name: str) -> dict[str, Any]:
        """Service ``name`` of compose, interpolated, its environment sent to loopback."""
        found = compose_env.service(self.compose, name, self.variables)
        found["environment"] = compose_env.loopback_env(found["environment"], self.addresses)
        return found

    def password(self) -> str:
        return self.variables[PASSWORD_VARIABLE]

    @property
    def username(self) -> str:
        return self.variables.get(USERNAME_VARIABLE, "admin")

    def env(self) -> dict[str, str]:
        """What every component starts from: the stack's locations and search paths (the image's ENV)."""
        return {**stack.stack_env(self.state, self.airflow_home), "MLCYCLE_CODE_VERSION": "native"}

    def airflow_env(self, service: str = "airflow-scheduler") -> dict[str, str]:
        """An Airflow component's environment: compose's, then what a host needs instead of a container."""
        return {**self.env(), **self.service(service)["environment"],
                "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(self.port["api"]),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.port["scheduler-health"]),
                **self.config}

    def client_env(self) -> dict[str, str]:
        """What a client of this topology (a test, a script) needs: the lake's URIs, S3 and MLflow."""
        return {k: v for k, v in self.airflow_env().items()
                if k.startswith(("MLCYCLE_", "MLFLOW_", "AIRFLOW_CONN_"))}

    def s3(self):
        """A boto3 S3 client of the stand-in itself (not through the fault proxy)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.url("moto"), region_name="us-east-1",
                            aws_access_key_id=self.variables["MINIO_ROOT_USER"],
                            aws_secret_access_key=self.variables["MINIO_ROOT_PASSWORD"])

    # --- components ---------------------------------------------------------------------------------------
    def components(self) -> list[dict[str, Any]]:
        from mlcycle.tools import topology_parts

        return topology_parts.components(self)

    def prepare(self) -> None:
        """The data folder of PostgreSQL, with passwords asked of TCP clients (the roles of compose)."""
        for folder in (self.run_dir, self.logs, self.airflow_home, self.state, self.home / "redis"):
            folder.mkdir(parents=True, exist_ok=True)
        if not shutil.which("redis-server"):
            raise TopologyError("redis-server is missing: `make prod-local` installs Debian's redis-server "
                                "(apt-get install redis-server)")
        try:
            postgres.initdb(self.home, self.logs / "postgres.log", host_auth="scram-sha-256")
        except postgres.PostgresError as exc:
            raise TopologyError(str(exc)) from exc


def buckets(endpoint: str, names: list[str]) -> None:
    """Create the buckets ``names`` on ``endpoint`` unless they exist (minio-init's ``mc mb --ignore-existing``)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    have = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for name in names:
        if name not in have:
            s3.create_bucket(Bucket=name)
    print(f"buckets: {', '.join(names)}", flush=True)


def bucket_names(command: list[str]) -> list[str]:
    """The buckets of minio-init's script (``mc mb ... local/<bucket> ...``)."""
    return re.findall(r"\blocal/([a-z0-9][a-z0-9.-]+)", " ".join(command))


def from_env() -> Topology:
    """``make prod-local``'s topology: state in ``<state>/prod``, the UIs on AIRFLOW_PORT and MLFLOW_PORT."""
    airflow_port, mlflow_port = settings.embedded_ports()
    return Topology(settings.state_dir() / "prod", {"api": airflow_port, "mlflow": mlflow_port}, dotenv=True)


def main(argv: list[str] | None = None) -> int:
    from mlcycle.tools import topology_parts

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["buckets"] and len(args) >= 2:
        buckets(args[1], args[2:])
        return 0
    if args not in (["start"], ["stop"], ["status"]):
        print("usage: python -m mlcycle.tools.topology {start,stop,status}", file=sys.stderr)
        return 2
    try:
        return topology_parts.cli(from_env(), args[0])
    except (TopologyError, compose_env.ComposeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
