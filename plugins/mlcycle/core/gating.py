"""The promotion gate: an Evidently report with tests, challenger against champion on one holdout.

Absolute tests come from ``evaluation.thresholds``. With a champion, each thresholded metric also
gets a relative test: the challenger may not be worse than the champion by more than
``evaluation.max_regression``. With no threshold configured the gate refuses to bless anything.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle import settings
from mlcycle.core import report_html
from mlcycle.core.config import METRICS, PipelineConfig
from mlcycle.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


PERCENT_METRICS = {"mape": 100}


class NoThresholdsError(DataError):
    """Evaluation without thresholds would bless any model: refused, as TFX's Evaluator does."""


@dataclass
class GateResult:
    """The verdict, every test's outcome, and where the report is."""

    passed: bool
    tests: list[dict[str, str]]
    html_path: str
    json_path: str
    has_champion: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _metric_classes(task: str) -> dict[str, Any]:
    from evidently import metrics as m

    if task == "classification":
        return {"roc_auc": m.RocAuc, "accuracy": m.Accuracy, "f1": m.F1Score, "precision": m.Precision,
                "recall": m.Recall, "log_loss": m.LogLoss}
    return {"mae": m.MAE, "rmse": m.RMSE, "r2": m.R2Score, "mape": m.MAPE}


def _dataset(frame: pd.DataFrame, task: str):
    from evidently import BinaryClassification, DataDefinition, Dataset, Regression

    if task == "classification":
        definition = DataDefinition(classification=[BinaryClassification(
            target="target", prediction_labels="prediction", prediction_probas="probability")])
    else:
        definition = DataDefinition(regression=[Regression(target="target", prediction="prediction")])
    return Dataset.from_pandas(frame, data_definition=definition)


def scored_frame(y, predicted, probability=None) -> pd.DataFrame:
    """The columns the gate reads: target, prediction and (classification) probability."""
    import pandas as pd

    frame = pd.DataFrame({"target": y, "prediction": predicted})
    if probability is not None:
        frame["probability"] = probability
    return frame


def evaluate(config: PipelineConfig, challenger: pd.DataFrame, champion: pd.DataFrame | None,
             out_dir: Path) -> GateResult:
    """Run the gate report; write ``gate_report.html`` and ``gate_report.json`` into ``out_dir``."""
    from evidently import Report
    from evidently.tests import Reference, gte, lte

    thresholds = config.evaluation.thresholds
    if not thresholds:
        raise NoThresholdsError(
            f"{config.name}: evaluation.thresholds is empty, so no model can be blessed. Add at least one, "
            f"e.g. evaluation: {{thresholds: {{{next(iter(METRICS[config.task]))}: ...}}}} in "
            f"{settings.pipelines_dir() / config.name}.yaml")
    classes = _metric_classes(config.task)
    tolerance = config.evaluation.max_regression
    metrics, names, ids = [], [], []
    for metric, threshold in thresholds.items():
        higher = METRICS[config.task][metric]
        compare, sign = (gte, ">=") if higher else (lte, "<=")
        scale = PERCENT_METRICS.get(metric, 1)  # the config says 0.1 for 10 %; Evidently's MAPE says 10
        tests = [compare(threshold * scale)]
        names.append(f"{metric} {sign} {threshold} (absolute)")
        ids.append(f"{metric}.absolute")
        if champion is not None:
            tests.append(compare(Reference(absolute=(tolerance or 1e-12) * scale)))
            names.append(f"{metric} {sign} champion {'-' if higher else '+'} {tolerance} (relative)")
            ids.append(f"{metric}.vs_champion")
        # Evidently's MAE and MAPE report a mean and its spread; their tests go on the mean
        metrics.append(classes[metric](**{"mean_tests" if metric in PERCENT_METRICS or metric == "mae"
                                          else "tests": tests}))
    # the remaining metrics are shown for context, without tests
    metrics += [cls() for name, cls in classes.items() if name not in thresholds]
    snapshot = Report(metrics).run(current_data=_dataset(challenger, config.task),
                                   reference_data=_dataset(champion, config.task) if champion is not None else None)
    payload = snapshot.dict()
    if len(payload["tests"]) != len(names):
        raise RuntimeError(f"expected {len(names)} Evidently tests, got {len(payload['tests'])}")
    tests = [{"id": test_id, "name": name, "description": t["description"],
              "status": str(getattr(t["status"], "value", t["status"]))}
             for test_id, name, t in zip(ids, names, payload["tests"], strict=True)]
    out_dir.mkdir(parents=True, exist_ok=True)
    html, js = out_dir / "gate_report.html", out_dir / "gate_report.json"
    report_html.save_html(snapshot, html)
    reasons = [f"{t['name']}: {t['description']}" for t in tests if t["status"] != "SUCCESS"]
    result = GateResult(passed=not reasons, tests=tests, html_path=str(html), json_path=str(js),
                        has_champion=champion is not None, reasons=reasons)
    js.write_text(json.dumps({"verdict": result.as_dict(), "evidently": json.loads(snapshot.json())}, indent=1,
                             default=str))
    log.info("gate for %s: %s; tests %s", config.name, "PASSED" if result.passed else "FAILED",
             [(t["name"], t["status"]) for t in tests])
    return result
