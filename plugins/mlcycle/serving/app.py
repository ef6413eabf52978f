"""The serving app (FastAPI): ``POST /predict/<pipeline>``, ``GET /health``, ``/ready``, ``/models``,
``/metrics`` and ``POST /reload``.

``/predict`` and ``/reload`` need the API key (``X-API-Key``, or ``Authorization: Bearer``), compared in
constant time with ``MLCYCLE_SERVING_API_KEY``. Every prediction answer names the model, version and run
id that made it, and the server process (``pid``). Run it with ``python -m mlcycle.serving``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import itertools
import logging
import os
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from mlcycle import settings
from mlcycle.core import training
from mlcycle.core.config import ConfigError, PipelineConfig, load_pipelines
from mlcycle.serving import metrics, payload
from mlcycle.serving.models import Slot, Swapper, refresh_all
from mlcycle.serving.recorder import Entry, Recorder, new_request_id

log = logging.getLogger(__name__)


class Server:
    """One process's state: its slots, the swapper thread and the request log."""

    def __init__(self, configs: list[PipelineConfig], api_key: str, poll_seconds: float, flush_seconds: float,
                 max_body: int, max_rows: int) -> None:
        self.slots = {c.name: Slot(c, on_swap=_count_swap) for c in configs}
        self.api_key, self.max_body, self.max_rows = api_key.encode(), max_body, max_rows
        self.swapper = Swapper(self.slots, poll_seconds)
        self.recorder = Recorder(self.slots, flush_seconds)
        self.answered = itertools.count(1)  # each answer's place in this process's order (``seq``)

    def start(self) -> None:
        self.swapper.start()
        self.recorder.start()

    def stop(self) -> None:
        self.swapper.stop()
        self.recorder.stop()

    def authorised(self, request: Request) -> bool:
        given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), self.api_key)


def _count_swap(slot: Slot, old, new) -> None:
    metrics.SWAPS.labels(slot.config.name).inc()
    metrics.LOADED.labels(slot.config.name, "champion").set(new.version)


def served_configs(names: list[str] | None = None) -> list[PipelineConfig]:
    """The pipelines to serve: ``names`` (default ``MLCYCLE_SERVING_PIPELINES``), else every one with training."""
    configs = [c for c in load_pipelines() if c.training]
    wanted = names or settings.serving_pipelines()
    unknown = sorted(set(wanted) - {c.name for c in configs})
    if unknown:
        raise ConfigError(f"MLCYCLE_SERVING_PIPELINES names {unknown}, which are not pipelines with a training "
                          f"section in {settings.pipelines_dir()}")
    return [c for c in configs if not wanted or c.name in wanted]


def create_app(server: Server | None = None) -> FastAPI:
    """The app; without ``server``, one built from the settings (the API key must be set)."""
    if not logging.getLogger().handlers:  # each uvicorn worker is a process of its own: our INFO lines too
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    if server is None:
        key = settings.serving_api_key()
        if not key:
            raise ConfigError("MLCYCLE_SERVING_API_KEY is not set: put a long random key in .env "
                              "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
        server = Server(served_configs(), key, settings.serving_poll_seconds(), settings.serving_flush_seconds(),
                        *settings.serving_limits())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(server.start)
        yield
        await run_in_threadpool(server.stop)
        metrics.process_exited()

    app = FastAPI(title="mlcycle serving", lifespan=lifespan)
    app.state.server = server
    _routes(app, server)
    return app


def _error(status: int, detail: str, pipeline: str = "", kind: str = "") -> JSONResponse:
    if pipeline:
        metrics.REQUESTS.labels(pipeline, str(status)).inc()
        metrics.ERRORS.labels(pipeline, kind or str(status)).inc()
    return JSONResponse({"detail": detail}, status_code=status)


async def _body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 past ``limit`` bytes (before reading it when the length is declared)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise payload.PayloadError(413, f"the body has {declared} bytes; at most {limit} "
                                        "(MLCYCLE_SERVING_MAX_BODY_BYTES): send fewer records per request")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise payload.PayloadError(413, f"the body is over {limit} bytes (MLCYCLE_SERVING_MAX_BODY_BYTES): "
                                            "send fewer records per request")
        chunks.append(chunk)
    return b"".join(chunks)


def _predict(server: Server, slot: Slot, body: bytes) -> dict[str, Any]:
    """Score a body with the champion read once; queue it for the request log."""
    champion, shadow = slot.champion, slot.shadow  # one read each: the whole request uses these
    if champion is None:
        raise payload.PayloadError(503, f"no model is loaded for {slot.config.name}: {slot.problem}")
    records = payload.records_of(body, server.max_rows)
    payload.check(records, champion.columns, slot.config)
    extra = [c for c in shadow.columns if c not in champion.columns] if shadow else []  # a challenger's own
    frame = payload.frame_of(records, champion.columns + extra)
    predicted, probability = training.predict(champion.model, frame, slot.config)
    request_id = new_request_id()
    server.recorder.record(Entry(request_id, dt.datetime.now(dt.UTC), frame, champion, predicted, probability, shadow))
    answer = {"pipeline": slot.config.name, "model": {"name": champion.name, "version": champion.version,
                                                      "run_id": champion.run_id},
              "predictions": predicted.tolist(), "request_id": request_id, "pid": os.getpid(),
              "seq": next(server.answered)}
    if probability is not None:
        answer["probabilities"] = probability.tolist()
    return answer


def _routes(app: FastAPI, server: Server) -> None:
    @app.post("/predict/{pipeline}")
    async def predict(pipeline: str, request: Request):
        if not server.authorised(request):
            return _error(401, "missing or wrong API key: send it as the X-API-Key header")
        slot = server.slots.get(pipeline)
        if slot is None:
            return _error(404, f"no pipeline '{pipeline}' is served here; served: {sorted(server.slots)}")
        started = time.perf_counter()
        try:
            answer = _predict(server, slot, await _body(request, server.max_body))
        except payload.PayloadError as exc:
            metrics.REQUESTS.labels(pipeline, str(exc.status)).inc()
            metrics.ERRORS.labels(pipeline, str(exc.status)).inc()
            return JSONResponse(exc.body(), status_code=exc.status)
        except Exception as exc:  # the model itself failed: a 500 that says so, and the server stays up
            log.exception("%s: prediction failed", pipeline)
            return _error(500, f"the model failed on this input: {type(exc).__name__}: {exc}", pipeline, "model")
        metrics.LATENCY.labels(pipeline).observe(time.perf_counter() - started)
        metrics.REQUESTS.labels(pipeline, "200").inc()
        metrics.ROWS.labels(pipeline).inc(len(answer["predictions"]))
        return JSONResponse(answer)  # plain JSON types already: no encoding pass

    @app.get("/health")
    def health():
        return {"status": "ok", "pid": os.getpid(),
                "models": {n: (s.champion.version if s.champion else None) for n, s in server.slots.items()}}

    @app.get("/ready")
    def ready():
        missing = {n: s.problem for n, s in server.slots.items() if s.champion is None}
        return JSONResponse({"ready": not missing, "missing": missing}, status_code=503 if missing else 200)

    @app.get("/models")
    def models():
        return {"pid": os.getpid(), "models": {n: s.describe() for n, s in server.slots.items()}}

    @app.get("/metrics")
    def prometheus():
        for name, slot in server.slots.items():
            metrics.LOADED.labels(name, "champion").set(slot.champion.version if slot.champion else 0)
            metrics.LOADED.labels(name, "shadow").set(slot.shadow.version if slot.shadow else 0)
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.post("/reload")
    async def reload(request: Request):
        if not server.authorised(request):
            return _error(401, "missing or wrong API key: send it as the X-API-Key header")
        errors = await run_in_threadpool(refresh_all, server.slots)
        return {"pid": os.getpid(), "errors": errors,
                "models": {n: s.describe() for n, s in server.slots.items()}}
