"""The MLflow server of the benchmark: started on a free port from ``mlcycle.tools.stack``, warmed up,
stopped with its worker processes, and its CPU time counted.

SQLite backend, proxied artifacts, one worker, job execution off (``stack.MLFLOW_ENV``): the job
runner's processes are unused here and start minutes after the server is healthy, in the middle of a
measurement (they once burned ~50 s of CPU inside the first measured run).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._harness.figures import secs
from bench._harness.workers import BenchError, tail
from mlcycle.tools import stack


@dataclass
class MlflowServer:
    process: subprocess.Popen
    url: str
    ready: float = 0.0  # seconds from spawn to healthy
    warm: str = ""      # what the warm-up did

    def api(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """One REST call; a resource that does not exist answers {}."""
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            if "RESOURCE_DOES_NOT_EXIST" in body:
                return {}
            raise BenchError(f"MLflow {method} {path}: HTTP {exc.code} {body[:300]}") from exc

    def delete_model(self, name: str) -> None:
        self.api("DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": name})

    def cpu(self) -> float | None:
        """CPU seconds used so far by the server's process group (Linux /proc; None elsewhere)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        try:
            stats = list(Path("/proc").glob("[0-9]*/stat"))
        except OSError:
            return None
        for stat in stats:
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid:  # pgrp: the server's own session and group
                total += sum(int(v) for v in fields[11:15]) / tick  # utime, stime, cutime, cstime
        return total if stats else None

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)  # the group of the server we started (start_new_session)
            except ProcessLookupError:
                return
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def start(folder: Path, log: Path, timeout: float) -> MlflowServer:
    """Start the server, wait until healthy, warm it up and wait until it is idle."""
    port = stack.free_port()
    folder.mkdir(parents=True, exist_ok=True)
    command = stack.mlflow_command(port, f"sqlite:///{folder / 'mlflow.db'}", str(folder / "artifacts"))
    started = time.perf_counter()
    with log.open("w") as sink:
        sink.write(f"$ {' '.join(command)}\n")
        sink.flush()
        # its own session: stopping it stops the server's own worker processes too
        process = subprocess.Popen(command, cwd=folder, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, **stack.MLFLOW_ENV})
    server = MlflowServer(process, f"http://127.0.0.1:{port}")

    def died() -> str | None:
        code = process.poll()
        return None if code is None else f"exited with code {code}"

    try:
        try:
            stack.poll_until(lambda: stack.http_ok(f"{server.url}/health"), timeout, "mlflow server", interval=0.5,
                             still_alive=died)
        except stack.NotReady as exc:
            raise BenchError(f"{exc}; log {log}:\n{tail(log)}") from exc
        server.ready = time.perf_counter() - started
        server.warm = _warm_up(server) + _wait_quiet(server)
    except BaseException:
        server.stop()
        raise
    return server


def _warm_up(server: MlflowServer) -> str:
    """A long-running server has served these requests before: so no measured path pays its first-use costs.

    Best effort: returns what was done, or why it stopped (the benchmark goes on either way).
    """
    name = f"bench-warm-up-{os.getpid()}-{time.time_ns()}"
    api = server.api
    try:
        experiment = api("POST", "/api/2.0/mlflow/experiments/create", {"name": name})
        info = api("POST", "/api/2.0/mlflow/runs/create", {
            "experiment_id": experiment["experiment_id"], "start_time": int(time.time() * 1000)})["run"]["info"]
        run_id, artifacts = info["run_id"], info["artifact_uri"]
        api("POST", "/api/2.0/mlflow/runs/log-batch", {
            "run_id": run_id, "params": [{"key": "p", "value": "1"}],
            "metrics": [{"key": "m", "value": 1.0, "timestamp": 0, "step": 0}]})
        path = artifacts.removeprefix("mlflow-artifacts:").lstrip("/")
        upload = urllib.request.Request(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{path}/warm-up/hello.txt",
                                        data=b"warm-up", method="PUT")
        with urllib.request.urlopen(upload, timeout=30):
            pass
        api("POST", "/api/2.0/mlflow/runs/update", {"run_id": run_id, "status": "FINISHED"})
        api("POST", "/api/2.0/mlflow/registered-models/create", {"name": name})
        api("POST", "/api/2.0/mlflow/model-versions/create", {
            "name": name, "source": f"{artifacts}/warm-up", "run_id": run_id})
        api("POST", "/api/2.0/mlflow/registered-models/alias", {"name": name, "alias": "warm", "version": "1"})
        api("GET", f"/api/2.0/mlflow/registered-models/alias?name={name}&alias=warm")
        server.delete_model(name)
    except (BenchError, KeyError, OSError) as exc:
        return f"warm-up stopped early ({str(exc)[:200]})"
    return "warmed up with one run, artifact upload, model version and alias"


def _wait_quiet(server: MlflowServer, limit: float = 60.0, window: float = 2.0) -> str:
    """Wait until the server's processes use under 5% of a core (or give up after ``limit`` s)."""
    started = time.perf_counter()
    cpu = server.cpu()
    if cpu is None:
        return ""
    rate = 0.0

    def quiet() -> bool:  # the server's CPU over the next window
        nonlocal cpu, rate
        time.sleep(window)
        after = server.cpu() or 0.0
        rate, cpu = (after - cpu) / window, after
        return rate < 0.05

    with contextlib.suppress(stack.NotReady):  # busy still after ``limit``: measure anyway
        stack.poll_until(quiet, limit, "mlflow server idle", interval=0)
    return f"; idle after {secs(time.perf_counter() - started, 0)} ({rate:.0%} of a core)"
