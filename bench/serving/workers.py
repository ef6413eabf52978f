"""Workers of the serving benchmark (``python -m bench.serving.workers <command>``): they import mlcycle's
stages, pandas and MLflow; the benchmark process does not.

* ``prepare <folder>``: five validated days of ``bench_sv``, v1 trained, gated and promoted, v2 (v1's model
  registered again, gate passed) ready to promote; the sixth day's features as JSON records;
* ``promote <version>`` / ``rollback``: the pipeline's own register and rollback (which notify the app).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench._harness.workers import emit, worker_main

PIPELINE = "bench_sv"
DAYS = ["2013-01-05", "2013-01-06", "2013-01-07", "2013-01-08", "2013-01-09"]


def _config():
    from mlcycle.core.config import load_pipeline

    return load_pipeline(PIPELINE)


def prepare() -> None:
    from mlcycle import settings
    from mlcycle.core import lake, registry, storage, training
    from mlcycle.sources import nycflights
    from mlcycle.stages import ingestion, modelling

    folder, config = Path(sys.argv[2]), _config()
    for ds in DAYS:
        nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
        ingestion.ingest_day(config, ds)
        ingestion.validate_day(config, ds)
    v1 = modelling.train_model(config, DAYS[-2], cause={"type": "manual", "reason": "serving benchmark"})
    modelling.evaluate_model(config, v1["version"])
    modelling.register_model(config, v1["version"])
    source = registry.version_info(PIPELINE, v1["version"])
    mv = registry.client().create_model_version(PIPELINE, source["source"], source["run_id"], tags=source["tags"],
                                                model_id=source["source"].removeprefix("models:/"))
    registry.record_gate(PIPELINE, int(mv.version), True, [], [], [])
    day = storage.read_partition(lake.partition("validated", PIPELINE, DAYS[-1]))
    records = json.loads(training.prepare(day, config).to_json(orient="records"))
    (folder / "records.json").write_text(json.dumps(records))
    emit("result", v1=v1["version"], v2=int(mv.version), rows=len(records))


def _moved(move) -> None:
    """Run a move of the champion; report when it started, when the alias had moved (the notification
    to the app is sent right after) and when it returned."""
    from mlcycle.stages import modelling

    marks = {}
    notify = modelling.notify_serving

    def timed(*args, **kwargs):  # a shim in this process only: the alias has moved when this is called
        marks["moved"] = time.time()
        return notify(*args, **kwargs)

    modelling.notify_serving = timed
    config, started = _config(), time.time()
    move(modelling, config)
    emit("result", started=started, moved=marks.get("moved", started), returned=time.time())


def promote() -> None:
    _moved(lambda modelling, config: modelling.register_model(config, int(sys.argv[2])))


def rollback() -> None:
    _moved(lambda modelling, config: modelling.rollback_model(config, None, "serving benchmark: roll back"))


if __name__ == "__main__":
    worker_main("bench.serving.workers", {"prepare": prepare, "promote": promote, "rollback": rollback}, sys.argv[1:])
