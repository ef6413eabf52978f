"""The promotion gate: an Evidently report with tests, and a paired comparison with the champion.

Absolute tests come from ``evaluation.thresholds`` (Evidently tests on the challenger's holdout figures).
With a champion, both models are scored on the same holdout rows and each compared metric
(``evaluation.compare_on``, default the primary metric) gets a paired bootstrap interval of
(challenger − champion) (:mod:`mlcycle.core.comparison`): promote, reject or inconclusive against
``-max_regression``. The intervals are written beside Evidently's tests: in the verdict, the report page
and the version's tags. With no threshold configured the gate refuses to bless anything.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle import settings
from mlcycle.core import comparison, lake, report_html
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
    verdict: str = comparison.PROMOTE  # promote | reject | inconclusive
    comparisons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def intervals(self) -> dict[str, str]:
        """``metric -> "[lo, hi] @ 0.95"``: the version tags ``gate.interval.<metric>``."""
        return {c["metric"]: comparison.Comparison(**c).interval_text() for c in self.comparisons}

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


def gate_metrics(config: PipelineConfig) -> tuple[list, list[str], list[str]]:
    """Evidently metrics with the gate's absolute tests, and each test's name and id, in Evidently's order.

    The task's other catalogue metrics are shown for context, without tests. (The comparison with the
    champion is not an Evidently test: :func:`compare` resamples it.)"""
    from evidently.tests import gte, lte

    metrics, names, ids = [], [], []
    for metric, threshold in config.evaluation.thresholds.items():
        entry = METRICS[metric]
        compare, sign = (gte, ">=") if entry.higher_is_better else (lte, "<=")
        scale = entry.evidently_scale  # the config says 0.1 for a MAPE of 10 %; Evidently says 10
        names.append(f"{metric} {sign} {threshold} (absolute)")
        ids.append(f"{metric}.absolute")
        metrics.append(entry.evidently_metric([compare(threshold * scale)]))
    metrics += [m.evidently_metric() for name, m in metrics_for(config.task).items()
                if name not in config.evaluation.thresholds]
    return metrics, names, ids


_STATUS = {comparison.PROMOTE: "SUCCESS", comparison.REJECT: "FAIL", comparison.INCONCLUSIVE: "WARNING"}


def _arrays(frame: pd.DataFrame) -> dict[str, Any]:
    return {"predicted": frame["prediction"].to_numpy(),
            **({"probability": frame["probability"].to_numpy(dtype=float)} if "probability" in frame else {})}


def compare(config: PipelineConfig, challenger: pd.DataFrame, champion: pd.DataFrame) -> list[comparison.Comparison]:
    """The paired comparison of every compared metric, on the rows both frames share (the same holdout)."""
    evaluation = config.evaluation
    if len(challenger) != len(champion) or not (challenger["target"].to_numpy() == champion["target"].to_numpy()).all():
        raise ValueError("the paired comparison needs both models scored on the same holdout rows")
    metrics = config.compared_metrics
    return comparison.compare(metrics, {m: evaluation.tolerance(m) for m in metrics},
                              challenger["target"].to_numpy(dtype=float), _arrays(challenger), _arrays(champion),
                              evaluation.confidence, evaluation.resamples, evaluation.seed)


def _comparison_tests(config: PipelineConfig, found: list[comparison.Comparison]) -> list[dict[str, str]]:
    how = (f"paired bootstrap, {config.evaluation.resamples} resamples, seed {config.evaluation.seed}"
           if config.evaluation.resamples else "point difference, no resampling")
    return [{"id": f"{c.metric}.vs_champion", "status": _STATUS[c.verdict],
             "name": f"{c.metric}: challenger − champion in {c.interval_text()} vs −{c.tolerance:g} ({how})",
             "description": c.describe()} for c in found]


def _intervals_html(config: PipelineConfig, tests: list[dict[str, str]], verdict: str) -> str:
    """The gate's tests and intervals as an HTML section, every value escaped."""
    rows = "".join(f"<tr><td>{html.escape(t['status'])}</td><td>{html.escape(t['name'])}</td>"
                   f"<td>{html.escape(t['description'])}</td></tr>" for t in tests)
    return (f'<section id="mlcycle-gate" style="font-family:sans-serif;margin:1em"><h2>Gate of '
            f"{html.escape(config.name)}: {html.escape(verdict)}</h2><table border=1 cellpadding=4>"
            f"<tr><th>status</th><th>test</th><th>detail</th></tr>{rows}</table>"
            "<p>Intervals: challenger − champion on the same holdout rows, oriented so that positive is better. "
            "promote: lower bound above −tolerance; reject: upper bound below it; inconclusive: it straddles "
            "−tolerance.</p></section>")


def _with_section(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8")
    at = text.find(">", text.find("<body")) + 1 if "<body" in text else 0
    path.write_text(text[:at] + section + text[at:], encoding="utf-8")


def _decide(config: PipelineConfig, tests: list[dict[str, str]],
            found: list[comparison.Comparison]) -> tuple[str, bool]:
    absolute_ok = all(t["status"] == "SUCCESS" for t in tests if t["id"].endswith(".absolute"))
    verdict = comparison.overall(found) if absolute_ok else comparison.REJECT
    passed = verdict == comparison.PROMOTE or (verdict == comparison.INCONCLUSIVE
                                               and config.evaluation.allow_inconclusive)
    return verdict, passed


def evaluate(config: PipelineConfig, challenger: pd.DataFrame, champion: pd.DataFrame | None,
             out_dir: Path) -> GateResult:
    """Run the gate report; write ``gate_report.html`` and ``gate_report.json`` into ``out_dir``."""
    from evidently import Report

    _check_thresholds(config)
    metrics, names, ids = gate_metrics(config)
    snapshot = Report(metrics).run(current_data=_dataset(challenger, config.task),
                                   reference_data=_dataset(champion, config.task) if champion is not None else None)
    payload = snapshot.dict()
    if len(payload["tests"]) != len(names):
        raise RuntimeError(f"expected {len(names)} Evidently tests, got {len(payload['tests'])}")
    tests = [{"id": test_id, "name": name, "description": t["description"],
              "status": str(getattr(t["status"], "value", t["status"]))}
             for test_id, name, t in zip(ids, names, payload["tests"], strict=True)]
    found = compare(config, challenger, champion) if champion is not None else []
    tests += _comparison_tests(config, found)
    verdict, passed = _decide(config, tests, found)
    out_dir.mkdir(parents=True, exist_ok=True)
    page, js = (out_dir / f"{lake.GATE_REPORT}.{ext}" for ext in ("html", "json"))
    report_html.save_html(snapshot, page)
    _with_section(page, _intervals_html(config, tests, verdict))
    reasons = [f"{t['name']}: {t['description']}" for t in tests if t["status"] != "SUCCESS"
               and not (passed and t["status"] == "WARNING")]
    result = GateResult(passed=passed, tests=tests, html_path=str(page), json_path=str(js),
                        has_champion=champion is not None, reasons=reasons, verdict=verdict,
                        comparisons=[c.as_dict() for c in found])
    js.write_text(json.dumps({"verdict": result.as_dict(), "evidently": json.loads(snapshot.json())}, indent=1,
                             default=str))
    log.info("gate for %s: %s (%s); tests %s", config.name, "PASSED" if result.passed else "FAILED", verdict,
             [(t["name"], t["status"]) for t in tests])
    return result
