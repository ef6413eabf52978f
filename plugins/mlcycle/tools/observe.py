"""Metrics of the embedded stack: the exporter, and Prometheus scraping it (``make observe``).

    python -m mlcycle.tools.observe exporter   # the pipelines' metrics on :MLCYCLE_EXPORTER_PORT/metrics
    python -m mlcycle.tools.observe run        # the exporter and Debian's Prometheus, until Ctrl-C
    python -m mlcycle.tools.observe check      # promtool check config + rules (what `make test` runs too)

Prometheus' configuration for compose is ``include/observability/prometheus/prometheus.yml``; the embedded
one is built here (:func:`prometheus_config`) from the same alert rules, with the local ports. Grafana is
not in Debian, so the embedded stack has none: the dashboards' queries are checked against this Prometheus
(``tests/e2e/test_metrics.py``). Data stay under ``<state>/prometheus``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import yaml

from mlcycle import settings

OBSERVABILITY = settings.REPO_ROOT / "include" / "observability"
RULES = OBSERVABILITY / "prometheus" / "rules.yml"
DASHBOARDS = OBSERVABILITY / "grafana" / "dashboards"
SCRAPE_INTERVAL = "15s"


def serve_exporter(port: int, address: str = "127.0.0.1") -> Any:
    """Serve the pipelines' metrics (:class:`mlcycle.core.prometheus.PipelineCollector`) on ``port``; returns
    the server (``shutdown()`` stops it)."""
    from prometheus_client import CollectorRegistry, start_http_server

    from mlcycle.core.prometheus import PipelineCollector

    registry = CollectorRegistry()
    registry.register(PipelineCollector())
    server, _ = start_http_server(port, address, registry=registry)
    return server


def prometheus_config(exporter: str, serving: str | None = None, interval: str = SCRAPE_INTERVAL,
                      rules: Path = RULES) -> dict[str, Any]:
    """The embedded Prometheus: scrape the exporter at ``exporter`` (``host:port``), the serving app's
    ``/metrics`` at ``serving`` when given, with the repository's alert rules."""
    jobs = [{"job_name": "mlcycle", "static_configs": [{"targets": [exporter]}]}]
    if serving:
        jobs.append({"job_name": "mlcycle-serving", "static_configs": [{"targets": [serving]}]})
    return {"global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(rules)], "scrape_configs": jobs}


def prometheus_command(config: Path, data: Path, port: int) -> list[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise SystemExit("prometheus is missing: `make observe` installs Debian's package (apt-get install "
                         "prometheus)")
    return [binary, f"--config.file={config}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"]


def write_config(folder: Path, config: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def check(config: Path | None = None) -> list[str]:
    """``promtool check`` of the rules and of ``config`` (default: the compose configuration); the problems."""
    promtool = shutil.which("promtool")
    if promtool is None:
        return ["promtool is missing: install Debian's prometheus package (make prometheus)"]
    problems = []
    for args in (["check", "rules", str(RULES)],
                 ["check", "config", "--syntax-only", str(config or OBSERVABILITY / "prometheus" / "prometheus.yml")]):
        result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60, check=False)
        if result.returncode:
            problems.append(f"promtool {' '.join(args)}: {result.stdout}{result.stderr}".strip())
    return problems


def run() -> int:
    """The exporter and Prometheus in the foreground; Ctrl-C (or SIGTERM) stops both."""
    exporter_port, prometheus_port, serving_port = settings.observe_ports()
    folder = settings.state_dir() / "prometheus"
    config = write_config(folder, prometheus_config(f"127.0.0.1:{exporter_port}", f"127.0.0.1:{serving_port}"))
    server = serve_exporter(exporter_port)
    process = subprocess.Popen(prometheus_command(config, folder / "data", prometheus_port))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"exporter http://127.0.0.1:{exporter_port}/metrics · Prometheus http://127.0.0.1:{prometheus_port} "
          f"(alerts: /alerts) · Ctrl-C stops both", flush=True)
    while not stop.wait(1):
        if process.poll() is not None:
            break
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
    server.shutdown()
    return process.returncode or 0


def _quick_registry_failures() -> None:
    """A scrape must answer within Prometheus' timeout (10 s) even when MLflow is down: few, short retries
    (the lake's figures still go out, with ``mlcycle_source_up{source="registry"} 0``)."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")


def main(argv: list[str] | None = None) -> int:
    _quick_registry_failures()
    parser = argparse.ArgumentParser(prog="python -m mlcycle.tools.observe", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["exporter", "run", "check"])
    args = parser.parse_args(argv)
    if args.command == "check":
        problems = check()
        print("\n".join(problems) or "promtool: rules and config are valid")
        return 1 if problems else 0
    if args.command == "exporter":
        port = settings.observe_ports()[0]
        server = serve_exporter(port, "0.0.0.0")  # in compose, Prometheus scrapes it from another container
        print(f"exporter on :{port}/metrics", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        server.shutdown()
        return 0
    return run()


if __name__ == "__main__":
    sys.exit(main())
