"""``python -m mlcycle.serving [--host H] [--port P] [--workers N]``: the serving app under uvicorn.

Defaults come from the settings (``MLCYCLE_SERVING_HOST``, ``_PORT``, ``_WORKERS``). Each worker process
loads the champion, polls the alias and swaps on its own; SIGTERM flushes the request log before exit.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import uvicorn

from mlcycle import settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve each pipeline's champion over HTTP.")
    parser.add_argument("--host", default=settings.serving_host())
    parser.add_argument("--port", type=int, default=settings.serving_port())
    parser.add_argument("--workers", type=int, default=settings.serving_workers())
    args = parser.parse_args(argv)
    if args.workers > 1:  # prometheus_client's multiprocess mode: one folder of value files, emptied at start
        folder = Path(settings.prometheus_multiproc_dir() or settings.state_dir() / "serving" / "prometheus")
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)  # the workers inherit it
    uvicorn.run("mlcycle.serving.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, access_log=False, timeout_graceful_shutdown=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
