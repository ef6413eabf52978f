"""Daily drift and model-quality checks with Evidently, against the champion's own training data.

The reference is the snapshot the champion was trained on, loaded back from DVC by the md5 its
model version records, never "whatever is latest". Each check compares one validated day with it:
data drift per column, drift of the model's output, and (when the day carries labels) model
quality against the champion's holdout figure. No Airflow here.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle.core import lake, report_html, storage, training, versioning
from mlcycle.core.catalogue import METRICS
from mlcycle.core.config import MonitoringConfig, PipelineConfig

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
OUTPUT = "model_output"  # the column drift-checked as prediction drift: probability, or the prediction


@dataclass
class DriftResult:
    """What one day's check found, and where its report is."""

    drift: bool
    share: float
    drifted_columns: list[str]
    column_scores: dict[str, float]
    prediction_drift: float | None = None
    prediction_drifted: bool = False
    quality: dict[str, float] = field(default_factory=dict)
    reference_quality: dict[str, float] = field(default_factory=dict)
    quality_drop: float | None = None
    empty_columns: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rows: int = 0
    reference_rows: int = 0
    sampled: bool = False
    html_path: str = ""
    json_path: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reference_snapshot(version_tags: dict[str, str]) -> pd.DataFrame:
    """The champion's training snapshot, pulled from DVC by the md5 its model version records."""
    import pandas as pd

    pointer, md5 = version_tags.get("data.dvc_pointer"), version_tags.get("data.md5")
    if not pointer or not md5:
        raise training.TrainingDataError("the champion carries no DVC lineage (data.dvc_pointer, data.md5); "
                                         "retrain it with this version of the code")
    return pd.read_parquet(io.BytesIO(versioning.load_version(pointer.removesuffix(".dvc"), md5)))


def sample(frame: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """At most ``rows`` rows, drawn uniformly with a fixed seed (so re-runs give the same verdict)."""
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed)


def _datasets(current: pd.DataFrame, reference: pd.DataFrame, columns: list[str]):
    """Evidently datasets with plain numpy dtypes (nullable pandas dtypes break its correlations)."""
    from evidently import DataDefinition, Dataset

    numeric = [c for c in columns if reference[c].dtype.kind in "biuf"]
    definition = DataDefinition(numerical_columns=numeric,
                                categorical_columns=[c for c in columns if c not in numeric])
    plain = {c: "float64" for c in numeric} | {c: object for c in columns if c not in numeric}
    return [Dataset.from_pandas(frame[columns].astype(plain), data_definition=definition)
            for frame in (current, reference)]


def empty_columns(current: pd.DataFrame, reference: pd.DataFrame, columns: list[str]) -> list[str]:
    """Columns with no value on one side: no distribution to compare, so they are reported apart."""
    return [c for c in columns if current[c].isna().all() or reference[c].isna().all()]


def drift_report(current: pd.DataFrame, reference: pd.DataFrame, columns: list[str], limits: MonitoringConfig,
                 drift_share: float | None = None, output: str | None = None):
    """Evidently data drift of ``columns`` (and of ``output``, the model's output, when given).

    Distances, not p-values: Wasserstein (in reference standard deviations) for numbers and
    Jensen-Shannon for categories do not flag tiny shifts just because the sample is large, and they
    are stable when each side is sampled down to ``sample_rows``.
    Returns (snapshot, drifted share, columns whose drift test failed, score per column, sampled).
    """
    from evidently import Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    sample_rows = limits.sample_rows
    sampled = max(len(current), len(reference)) > sample_rows
    empty = set(empty_columns(current, reference, columns))
    columns = [c for c in columns if c not in empty]
    wanted = [*columns, *([output] if output else [])]
    datasets = _datasets(sample(current, sample_rows), sample(reference, sample_rows), wanted)
    metrics = [DataDriftPreset(columns=columns, drift_share=drift_share or limits.drift_share,
                               num_method="wasserstein", num_threshold=limits.numeric_threshold,
                               cat_method="jensenshannon", cat_threshold=limits.categorical_threshold)]
    if output:
        metrics.append(ValueDrift(column=output, method="wasserstein", threshold=limits.numeric_threshold))
    snapshot = Report(metrics, include_tests=True).run(*datasets)
    payload = snapshot.dict()
    scores, failed = {}, set()
    for metric in payload["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
        elif config["type"].endswith("ValueDrift"):
            scores[config["column"]] = round(float(metric["value"]), 6)
    for test in payload["tests"]:  # one per column; the share's own test has no column
        column = test["metric_config"]["params"].get("column")
        if column and str(getattr(test["status"], "value", test["status"])) != "SUCCESS":
            failed.add(column)
    return snapshot, share, failed, scores, sampled


def _quality(config: PipelineConfig, day: pd.DataFrame, predicted, probability) -> dict[str, float]:
    labelled = day[config.label].notna().to_numpy()
    if not labelled.any():
        return {}
    return training.metrics_from_predictions(
        config, training.target(day[labelled], config), predicted[labelled],
        probability[labelled] if probability is not None else None)


def check_day(config: PipelineConfig, day: pd.DataFrame, reference: pd.DataFrame, model,
              reference_quality: dict[str, float], out_dir: Path, drift_share: float | None = None,
              quality_drop: float | None = None) -> DriftResult:
    """Compare one day with the reference; write ``drift_report.html`` and ``.json`` into ``out_dir``.

    ``drift_share`` and ``quality_drop`` override the config's thresholds (e.g. from a Param).
    """
    monitoring = config.monitoring
    share_limit = drift_share if drift_share is not None else monitoring.drift_share
    drop_limit = quality_drop if quality_drop is not None else monitoring.quality_drop
    columns = config.monitored_columns
    day_predicted, day_probability = training.predict(model, day, config)
    ref_predicted, ref_probability = training.predict(model, reference, config)
    day = day.assign(**{OUTPUT: day_probability if day_probability is not None else day_predicted})
    reference = reference.assign(**{OUTPUT: ref_probability if ref_probability is not None else ref_predicted})
    snapshot, share, failed, scores, sampled = drift_report(day, reference, columns, monitoring, share_limit,
                                                            OUTPUT)
    drifted = sorted(c for c in failed if c in columns)
    quality = _quality(config, day, day_predicted, day_probability)
    primary = config.training.primary_metric
    drop = None
    if primary in quality and primary in reference_quality:
        sign = 1 if METRICS[primary].higher_is_better else -1
        drop = round(sign * (reference_quality[primary] - quality[primary]), 6)
    reasons = []
    if share >= share_limit:
        reasons.append(f"{len(drifted)} of {len(columns)} columns drifted (share {share:.2f} >= {share_limit}): "
                       f"{', '.join(drifted)}")
    if drop is not None and drop_limit is not None and drop > drop_limit:
        reasons.append(f"{primary} {quality[primary]:.3f} is {drop:.3f} below the champion's holdout "
                       f"{reference_quality[primary]:.3f} (limit {drop_limit})")
    result = DriftResult(drift=bool(reasons), share=round(share, 6), drifted_columns=drifted,
                         column_scores={c: s for c, s in scores.items() if c != OUTPUT},
                         prediction_drift=scores.get(OUTPUT), prediction_drifted=OUTPUT in failed,
                         quality=quality, reference_quality=reference_quality, quality_drop=drop, reasons=reasons,
                         empty_columns=empty_columns(day, reference, columns),
                         rows=len(day), reference_rows=len(reference), sampled=sampled)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.html_path, result.json_path = (str(out_dir / f"{lake.DRIFT_REPORT}.{ext}") for ext in ("html", "json"))
    report_html.save_html(snapshot, result.html_path)  # data in it stays data (see report_html)
    Path(result.json_path).write_text(json.dumps({"verdict": result.as_dict(),
                                                  "evidently": json.loads(snapshot.json())}, indent=1, default=str))
    log.info("%s: drift=%s share=%.2f drifted=%s quality=%s drop=%s", config.name, result.drift, share, drifted,
             quality, drop)
    return result


def publish_report(config: PipelineConfig, ds: str, result: DriftResult, meta: dict[str, Any],
                   uri: str | None = None) -> str:
    """Copy the day's report into the lake (``uri``, default :func:`lake.drift_report`); the manifest goes last."""
    uri = uri or lake.drift_report(config.name, ds)
    for path in (result.html_path, result.json_path):
        storage.write_bytes_atomic(f"{uri}/{Path(path).name}", Path(path).read_bytes())
    manifest = {"ds": ds, "drift": result.drift, "share": result.share, "drifted_columns": result.drifted_columns,
                "report": f"{uri}/{lake.DRIFT_REPORT}.html", "primary_metric": config.training.primary_metric,
                "quality": result.quality, "reference_quality": result.reference_quality, **meta}
    storage.write_bytes_atomic(f"{uri}/{lake.MANIFEST_FILE}", json.dumps(manifest, indent=1).encode())
    return f"{uri}/{lake.DRIFT_REPORT}.html"
