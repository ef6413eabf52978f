"""The components of the native production topology (:mod:`mlcycle.tools.topology`), its health, start and stop.

Each component is built from its compose service (command, entrypoint, environment, bind mounts); the
supervisor of the embedded runtime (:mod:`mlcycle.tools.supervisor`) runs them in this order, and
:mod:`mlcycle.tools.control` starts and stops that supervisor, as for ``make demo``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.tools import compose_env, control, postgres, stack

if TYPE_CHECKING:
    from mlcycle.tools.topology import Topology

AIRFLOW = str(stack.VENV_BIN / "airflow")
PYTHON = sys.executable


def mounted(t: Topology, service: dict[str, Any]) -> dict[str, Path]:
    """The service's bind mounts of files (``./host:/container[:ro]``): container path -> a copy under the
    state folder with compose's addresses sent to loopback (a config file names hosts too)."""
    found = {}
    for volume in service.get("volumes") or []:
        source, _, rest = str(volume).partition(":")
        if not source.startswith("./"):
            continue
        target = rest.split(":")[0]
        copy = t.home / "mounts" / Path(target).name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(compose_env.loopback((t.compose_file.parent / source).read_text(), t.addresses))
        found[target] = copy
    return found


def _env(t: Topology, name: str, **more: str) -> dict[str, str]:
    """A non-Airflow service's environment: compose's, with mounted container paths swapped for their copies."""
    service = t.service(name)
    paths = {target: str(copy) for target, copy in mounted(t, service).items()}
    return {**{k: paths.get(v, v) for k, v in service["environment"].items()}, **more}


def _mlflow_argv(t: Topology) -> list[str]:
    service = t.service("mlflow")
    argv = [*service.get("entrypoint", ["mlflow"]), *service["command"]]
    swap = {"--host": "127.0.0.1", "--port": str(t.port["mlflow"])}
    argv = [f"{a.split('=')[0]}={swap[a.split('=')[0]]}" if a.split("=")[0] in swap and "=" in a
            else compose_env.loopback(a, t.addresses) for a in argv]
    return [str(stack.VENV_BIN / argv[0]), *argv[1:]]


def data_services(t: Topology) -> list[dict[str, Any]]:
    """PostgreSQL and its roles, Redis, the S3 stand-in and its buckets."""
    pg = t.port["postgres"]
    init_script = next(t.compose_file.parent / str(v).split(":")[0] for v in t.service("postgres")["volumes"]
                       if "docker-entrypoint-initdb.d" in str(v))
    marker = t.home / "postgres" / "initialized"
    redis = t.service("redis")["command"]
    socket = t.run_dir / "redis.sock"
    found = [
        {"name": "postgres", "argv": postgres.server_command(t.home, port=pg),
         "gate": f"unix:{postgres.socket_path(t.home, pg)}", "stop_signal": "SIGINT"},
        # the image runs its init scripts once, on an empty data folder: so does this, with compose's environment
        {"name": "postgres-init", "gate": "oneshot", "argv": [
            "bash", "-c", f'[ -e "{marker}" ] || {{ bash "$0" && touch "{marker}"; }}', str(init_script)],
         "env": _env(t, "postgres", POSTGRES_USER=postgres.USER, PGHOST=str(postgres.socket_dir(t.home)),
                     PGPORT=str(pg), PATH=f"{postgres.bin_dir()}:{t.env()['PATH']}")},
        {"name": "redis", "argv": [shutil.which(redis[0]) or redis[0], *redis[1:], "--port", str(t.port["redis"]),
                                   "--bind", "127.0.0.1", "--dir", str(t.home / "redis"), "--unixsocket",
                                   str(socket), "--unixsocketperm", "700"],
         "gate": f"unix:{socket}", "env": _env(t, "redis")},
        {"name": "s3", "argv": [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(t.port["moto"])],
         "gate": f"http:{t.url('moto')}/moto-api/"},
    ]
    if t.s3_proxy:
        found.append({"name": "s3-proxy", "argv": [PYTHON, "-m", "mlcycle.tools.faultproxy", str(t.port["s3"]),
                                                   str(t.port["moto"]), str(t.run_dir / "s3-proxy.json")],
                      "gate": f"http:{t.url('s3')}/moto-api/"})
    minio = t.service("minio-init")
    found.append({"name": "s3-init", "gate": "oneshot", "argv": [
        PYTHON, "-m", "mlcycle.tools.topology", "buckets", t.url("s3"), *_bucket_names(minio)],
        "env": {"AWS_ACCESS_KEY_ID": minio["environment"]["MINIO_ROOT_USER"],
                "AWS_SECRET_ACCESS_KEY": minio["environment"]["MINIO_ROOT_PASSWORD"]}})
    return found


def _bucket_names(service: dict[str, Any]) -> list[str]:
    from mlcycle.tools.topology import bucket_names

    return bucket_names(service["command"])


def components(t: Topology) -> list[dict[str, Any]]:
    """Every component in start order (compose's ``depends_on`` order): data services, MLflow, Airflow."""
    health = f"http:{t.airflow_url}/api/v2/monitor/health"
    found = [*data_services(t),
             {"name": "mlflow", "argv": _mlflow_argv(t), "env": _env(t, "mlflow"),
              "gate": f"http:{t.mlflow_url}/health", "watch": f"http:{t.mlflow_url}/health"},
             {"name": "mlflow-init", "gate": "oneshot", "argv": [PYTHON, "-m", "mlcycle.tools.mlflow_auth"],
              "env": _env(t, "mlflow-init")}]
    init = t.service("airflow-init")
    found.append({"name": "airflow-init", "gate": "oneshot", "argv": [*init["entrypoint"], *init["command"]],
                  "env": t.airflow_env("airflow-init")})
    for name, service in (("api-server", "airflow-api-server"), ("scheduler", "airflow-scheduler"),
                          ("dag-processor", "airflow-dag-processor"), ("triggerer", "airflow-triggerer")):
        argv = [AIRFLOW, *t.service(service)["command"], *(["--skip-serve-logs"] if name != "api-server"
                                                          and name != "dag-processor" else [])]
        found.append({"name": name, "argv": argv, "env": {**stack.API_SERVER_POOL, **t.airflow_env(service)}
                      if name == "api-server" else t.airflow_env(service),
                      **({"gate": health, "watch": health} if name == "api-server" else {})})
    worker = t.service("airflow-worker")
    for name in ("worker-1", "worker-2"):  # compose scales one service; here two processes on one host
        found.append({"name": name, "argv": [AIRFLOW, *worker["command"], "--celery-hostname", f"{name}@%h",
                                             "--skip-serve-logs"], "env": t.airflow_env("airflow-worker")})
    return found


def worker_ready(t: Topology, name: str) -> bool:
    """Whether Celery worker ``name`` said ``ready.`` since its latest start (its log, written by the supervisor)."""
    try:
        text = (t.logs / f"{name}.log").read_text(errors="replace")
    except OSError:
        return False
    return " ready." in text.rpartition("supervisor: starting")[2]


def health(t: Topology) -> dict[str, bool]:
    """Each component: done (one-shots) or running and answering (Airflow's jobs by their heartbeats)."""
    states = control.read_status(t).get("components", {}) if control.supervisor_pid(t) else {}
    airflow = control._airflow_health(t) or {}
    found = {}
    for c in components(t):
        state = states.get(c["name"], {}).get("state")
        job = c["name"].replace("-", "_")
        if c.get("gate") == "oneshot":
            found[c["name"]] = state == "done"
        elif c["name"].startswith("worker-"):
            found[c["name"]] = state == "running" and worker_ready(t, c["name"])
        elif job in ("scheduler", "dag_processor", "triggerer"):
            found[c["name"]] = state == "running" and (airflow.get(job) or {}).get("status") == "healthy"
        else:
            found[c["name"]] = state == "running" and (not c.get("gate", "").startswith("http:")
                                                       or stack.http_ok(c["gate"][5:]))
    return found


def wait_healthy(t: Topology, timeout: float = 420) -> None:
    from mlcycle.tools.topology import TopologyError

    try:
        control.wait_until_healthy(lambda: [name for name, ok in health(t).items() if not ok],
                                   "the production topology", timeout,
                                   lambda: None if control.supervisor_pid(t) else "the supervisor exited")
    except stack.NotReady as exc:
        raise TopologyError(f"{exc}; not healthy: {', '.join(exc.down)}; logs in {t.logs}") from exc


def start(t: Topology, timeout: float = 420) -> None:
    t.prepare()
    control.launch(t)
    wait_healthy(t, timeout)


def cli(t: Topology, action: str) -> int:
    if action == "start":
        start(t)
        print(f"Airflow UI   {t.airflow_url}   login {t.username} / {t.password()} (FAB)\n"
              f"MLflow UI    {t.mlflow_url}   login {t.variables['MLFLOW_ADMIN_USERNAME']} / "
              f"{t.variables['MLFLOW_ADMIN_PASSWORD']}\nState folder {t.home}; logs {t.logs}")
    elif action == "stop":
        control.stop(t)
    else:
        checks = health(t)
        for name, ok in checks.items():
            print(f"  {name:<14} {'ok' if ok else 'DOWN'}")
        return 0 if checks and all(checks.values()) else 1
    return 0
