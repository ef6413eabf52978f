"""The retraining half of ``make reproduce``, run as a script by :mod:`mlcycle.tools.reproduce`.

It runs in a separate Python process whose ``PYTHONPATH`` is the ``plugins/`` folder of a temporary
git worktree at the version's recorded commit, so ``mlcycle.core.training`` below is the code of that
commit, not of this checkout. It reads a job (JSON: config, snapshot file, estimator, params), refits
with :func:`mlcycle.core.training.refit` and writes the holdout metrics and predictions.

    python plugins/mlcycle/tools/retrain.py JOB.json OUT_FOLDER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def retrain(job: dict, out: Path) -> dict:
    import numpy as np
    import pandas as pd

    import mlcycle
    from mlcycle.core import training
    from mlcycle.core.config import PipelineConfig

    config = PipelineConfig.model_validate(job["config"])
    snapshot = pd.read_parquet(job["snapshot"])
    model, metrics = training.refit(config, snapshot, job["estimator"], job["params"])
    holdout = snapshot[snapshot[training.SPLIT_COLUMN] == "holdout"]
    predicted, probability = training.predict(model, holdout, config)
    arrays = {"predicted": np.asarray(predicted)}
    if probability is not None:
        arrays["probability"] = np.asarray(probability)
    np.savez(out / "predictions.npz", **arrays)
    result = {"metrics": metrics, "code": str(Path(mlcycle.__file__).parent), "holdout_rows": len(holdout)}
    (out / "result.json").write_text(json.dumps(result))
    return result


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: retrain.py JOB.json OUT_FOLDER (run by make reproduce)")
    retrain(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
