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
from mlcycle.core import lake, report_html
from mlcycle.core.catalogue import METRICS, metrics_for
from mlcycle.core.config import PipelineConfig
from mlcycle.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


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


def _check_thresholds(config: PipelineConfig) -> None:
    if not config.evaluation.thresholds:
        example = next(iter(metrics_for(config.task)))
        raise NoThresholdsError(
            f"{config.name}: evaluation.thresholds is empty, so no model can be blessed. Add at least one, "
            f"e.g. evaluation: {{thresholds: {{{example}: ...}}}} in {settings.pipelines_dir() / config.name}.yaml")


def gate_metrics(config: PipelineConfig, has_champion: bool) -> tuple[list, list[str], list[str]]:
    """Evidently metrics with the gate's tests, and each test's name and id, in Evidently's order.

    Absolute tests for every threshold; with a champion, a relative test per thresholded metric too.
    The task's other catalogue metrics are shown for context, without tests.
    """
    from evidently.tests import Reference, gte, lte

    tolerance = config.evaluation.max_regression
    metrics, names, ids = [], [], []
    for metric, threshold in config.evaluation.thresholds.items():
        entry = METRICS[metric]
        compare, sign = (gte, ">=") if entry.higher_is_better else (lte, "<=")
        scale = entry.evidently_scale  # the config says 0.1 for a MAPE of 10 %; Evidently says 10
        tests = [compare(threshold * scale)]
        names.append(f"{metric} {sign} {threshold} (absolute)")
        ids.append(f"{metric}.absolute")
        if has_champion:
            tests.append(compare(Reference(absolute=(tolerance or 1e-12) * scale)))
            names.append(f"{metric} {sign} champion {'-' if entry.higher_is_better else '+'} {tolerance} (relative)")
            ids.append(f"{metric}.vs_champion")
        metrics.append(entry.evidently_metric(tests))
    metrics += [m.evidently_metric() for name, m in metrics_for(config.task).items()
                if name not in config.evaluation.thresholds]
    return metrics, names, ids


def evaluate(config: PipelineConfig, challenger: pd.DataFrame, champion: pd.DataFrame | None,
             out_dir: Path) -> GateResult:
    """Run the gate report; write ``gate_report.html`` and ``gate_report.json`` into ``out_dir``."""
    from evidently import Report

    _check_thresholds(config)
    metrics, names, ids = gate_metrics(config, champion is not None)
    snapshot = Report(metrics).run(current_data=_dataset(challenger, config.task),
                                   reference_data=_dataset(champion, config.task) if champion is not None else None)
    payload = snapshot.dict()
    if len(payload["tests"]) != len(names):
        raise RuntimeError(f"expected {len(names)} Evidently tests, got {len(payload['tests'])}")
    tests = [{"id": test_id, "name": name, "description": t["description"],
              "status": str(getattr(t["status"], "value", t["status"]))}
             for test_id, name, t in zip(ids, names, payload["tests"], strict=True)]
    out_dir.mkdir(parents=True, exist_ok=True)
    html, js = (out_dir / f"{lake.GATE_REPORT}.{ext}" for ext in ("html", "json"))
    report_html.save_html(snapshot, html)
    reasons = [f"{t['name']}: {t['description']}" for t in tests if t["status"] != "SUCCESS"]
    result = GateResult(passed=not reasons, tests=tests, html_path=str(html), json_path=str(js),
                        has_champion=champion is not None, reasons=reasons)
    js.write_text(json.dumps({"verdict": result.as_dict(), "evidently": json.loads(snapshot.json())}, indent=1,
                             default=str))
    log.info("gate for %s: %s; tests %s", config.name, "PASSED" if result.passed else "FAILED",
             [(t["name"], t["status"]) for t in tests])
    return result
