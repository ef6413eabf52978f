"""Servers and load of the serving benchmark: start ``python -m mlcycle.serving`` and ``mlflow models serve``,
send requests over kept-alive connections (stdlib ``http.client``), and time them.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._harness.workers import BenchError, tail
from mlcycle.tools import stack

KEY = "bench-serving-key-0123456789"


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    path: str  # the prediction path
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start(name: str, command: list[str], path: str, health: str, log: Path, env: dict[str, str],
          timeout: float) -> Server:
    port = stack.free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, **env})
    server = Server(name, process, port, path, log)
    try:
        stack.poll_until(lambda: stack.http_ok(f"http://127.0.0.1:{port}{health}"), timeout, name, interval=0.5,
                         still_alive=lambda: None if process.poll() is None else f"exited with {process.returncode}")
    except stack.NotReady as exc:
        server.stop()
        raise BenchError(f"{exc}; log {log}:\n{tail(log)}") from exc
    return server


def ours(pipelines: Path, log: Path, timeout: float) -> Server:
    env = {"MLCYCLE_SERVING_API_KEY": KEY, "MLCYCLE_PIPELINES_DIR": str(pipelines), "MLCYCLE_SERVING_WORKERS": "1"}
    return start("mlcycle.serving", [sys.executable, "-m", "mlcycle.serving", "--port", "{port}"],
                 "/predict/bench_sv", "/ready", log, env, timeout)


def mlflow_serve(model_uri: str, log: Path, timeout: float) -> Server:
    command = [str(stack.VENV_BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
               "-h", "127.0.0.1", "-p", "{port}", "-w", "1"]
    return start("mlflow models serve", command, "/invocations", "/ping", log, {}, timeout)


def body(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"dataframe_records": records}).encode()


class Client:
    """One kept-alive connection; :meth:`post` returns (status, answer, seconds)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

    def post(self, payload: bytes) -> tuple[int, dict[str, Any], float]:
        started = time.perf_counter()
        try:
            self.connection.request("POST", self.server.path, payload,
                                    {"Content-Type": "application/json", "X-API-Key": KEY})
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            return 0, {}, time.perf_counter() - started
        try:
            answer = json.loads(data)
        except ValueError:
            answer = {}
        return response.status, answer if isinstance(answer, dict) else {}, time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def latency(server: Server, payload: bytes, requests: int) -> dict[str, float]:
    """Sequential requests on one connection (after 20 to warm up): p50 and p99 in ms, errors."""
    client = Client(server)
    for _ in range(20):
        client.post(payload)
    seconds, errors = [], 0
    for _ in range(requests):
        status, _, took = client.post(payload)
        errors += status != 200
        seconds.append(took)
    return {"p50_ms": percentile(seconds, 0.5) * 1000, "p99_ms": percentile(seconds, 0.99) * 1000, "errors": errors}


def throughput(server: Server, payload: bytes, clients: int, seconds: float) -> dict[str, float]:
    """``clients`` connections sending back to back for ``seconds``: answered requests per second, errors."""
    done, errors = [0] * clients, [0] * clients
    stop = time.perf_counter() + seconds

    def loop(index: int) -> None:
        client = Client(server)
        while time.perf_counter() < stop:
            status, _, _ = client.post(payload)
            done[index] += status == 200
            errors[index] += status != 200

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"rps": sum(done) / seconds, "errors": sum(errors)}


@dataclass
class Loop:
    """Clients that send 1-row requests until stopped, recording (time, status, version) of each answer."""

    server: Server
    payload: bytes
    clients: int = 2
    seen: list[tuple[float, int, int | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Loop:
        def loop() -> None:
            client = Client(self.server)
            while not self._stop.is_set():
                status, answer, _ = client.post(self.payload)
                self.seen.append((time.time(), status, (answer.get("model") or {}).get("version")))
        self._threads = [threading.Thread(target=loop) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def settled(self, version: int, since: float) -> float | None:
        """When answers after ``since`` came from ``version`` only, from then on (None while not yet)."""
        after = [(t, v) for t, status, v in self.seen if t >= since and status == 200]
        if not after or after[-1][1] != version:
            return None
        last_other = max((t for t, v in after if v != version), default=since)
        first_new = min(t for t, v in after if v == version and t >= last_other)
        return first_new if after[-1][0] - first_new > 1.0 else None
