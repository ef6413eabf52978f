"""Pipeline config schema: one YAML file per pipeline under ``include/pipelines/``.

Validated with pydantic so a typo or a bad value fails at load time, with the file, the field and
what was expected in the message.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from mlcycle import settings
from mlcycle.core.catalogue import ESTIMATORS, METRICS, TaskType, estimators_for, metrics_for
from mlcycle.core.landing import LandingConfig
from mlcycle.core.promotion_config import EvaluationConfig, GovernanceConfig, PromotionConfig
from mlcycle.core.promotion_config import Strict as _Strict
from mlcycle.errors import DataError

ColumnType = Literal["int", "float", "string", "bool", "date", "datetime"]
NAME_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"


class ConfigError(DataError):
    """A pipeline config that cannot be used; the message names file, field and fix."""


class ScheduleConfig(_Strict):
    """When the ingest DAG runs. ``end_date`` bounds a historical replay."""

    cron: str = "@daily"
    start_date: dt.date
    end_date: dt.date | None = None
    catchup: bool = False
    backfill_chunk_days: int = Field(7, ge=1, le=366, description="Days per task instance when a run ingests a "
                                     "range (From / To): one wait, one ingest, one validate and one DVC push per "
                                     "chunk. A daily run is one day.")
    paused_upon_creation: bool = Field(False, description="The pipeline's DAGs start paused: nothing runs until "
                                                          "a person unpauses them (the scaffold sets it).")

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleConfig:
        if self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class ValidationConfig(_Strict):
    """Great Expectations suite and the row-quarantine limit."""

    suite: str | None = Field(None, description="Suite name; defaults to the pipeline name.")
    max_quarantine_share: float = Field(0.05, ge=0, le=1, description="Above this failing share the batch fails.")
    notify_quarantine_share: float = Field(0.05, ge=0, le=1, description="Above this share a quarantine "
                                                                         "notification goes out.")
    # Volume: a day's row count against the median of the validated days before it.
    volume_min_ratio: float = Field(0.5, ge=0, description="Below this share of the recent median, validation fails.")
    volume_max_ratio: float | None = Field(2.0, gt=0, description="Above this multiple of the median, it fails.")
    volume_window_days: int = Field(14, ge=1, description="How many validated days before the day make the median.")
    volume_min_days: int = Field(7, ge=1, description="The check starts once this many days are validated.")

    @model_validator(mode="after")
    def _volume_bounds(self) -> ValidationConfig:
        if self.volume_max_ratio is not None and self.volume_max_ratio <= self.volume_min_ratio:
            raise ValueError("volume_max_ratio must be above volume_min_ratio")
        if self.volume_min_days > self.volume_window_days:
            raise ValueError("volume_min_days cannot be more than volume_window_days")
        return self


class TrainingConfig(_Strict):
    """What to train on and how: features, window, chronological holdout, estimator and search."""

    numeric_features: list[str] = []
    categorical_features: list[str] = []
    window_days: int = Field(14, ge=2, description="Validated days up to the end date used for training.")
    holdout_days: int = Field(3, ge=1, description="Most recent days of the window held out for evaluation.")
    estimator: str = Field(description="Default estimator; one of allowed_estimators.")
    allowed_estimators: list[str] = Field(default_factory=list, description="Estimators a manual run may pick.")
    params: dict[str, float | int | str | None] = Field(default_factory=dict, description="Fixed parameters.")
    search: dict[str, list[float | int | str | None]] = Field(
        default_factory=dict, description="Small grid: every combination is a child run; best on validation wins.")
    primary_metric: str = Field(description="Metric that picks the best search candidate.")
    random_state: int = 42

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        if self.window_days < self.min_window_days:
            raise ValueError(f"window_days must be at least holdout_days + 2 = {self.min_window_days} (the search "
                             "fits on the training days but the last, and scores on the last)")
        for name in {self.estimator, *self.allowed_estimators}:
            if name not in ESTIMATORS:
                raise ValueError(f"unknown estimator '{name}', expected one of {sorted(ESTIMATORS)}")
        if not (self.numeric_features or self.categorical_features):
            raise ValueError("list at least one feature under numeric_features or categorical_features")
        return self

    @property
    def min_window_days(self) -> int:
        """The fewest validated days a training needs: two to search on, plus the holdout."""
        return self.holdout_days + 2

    @property
    def estimators(self) -> list[str]:
        return sorted({self.estimator, *self.allowed_estimators})


class MonitoringConfig(_Strict):
    """Daily drift and quality checks against the champion's own training data, and retraining."""

    columns: list[str] = Field(default_factory=list, description="Columns checked for drift; empty: the features.")
    drift_share: float = Field(0.5, gt=0, le=1, description="Share of drifted columns that raises drift.")
    numeric_threshold: float = Field(0.1, gt=0, description="A numeric column drifts when its Wasserstein distance, "
                                                            "in standard deviations of the reference, exceeds this.")
    categorical_threshold: float = Field(0.1, gt=0, le=1, description="A categorical column drifts when its "
                                                                      "Jensen-Shannon distance exceeds this.")
    quality_drop: float | None = Field(
        0.05, ge=0, description="Drop of the primary metric below the champion's holdout figure that raises "
                                "drift; null: ignore quality.")
    sample_rows: int = Field(50_000, ge=1000, description="Rows per side the drift test reads at most.")
    retrain_cron: str | None = Field("@weekly", description="Scheduled retraining, besides drift; null: none.")
    cooldown_minutes: int = Field(360, ge=0, description="After a drift-triggered training, later alerts inside "
                                                         "this many minutes are recorded and skipped.")


class PipelineConfig(_Strict):
    """One model pipeline: its data contract and the settings of every stage."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str
    owner: str = "ml-platform"
    tags: list[str] = []
    retries: int = Field(2, ge=1)
    retry_delay_seconds: int = Field(60, ge=1, description="Wait between a failed try and the next one.")
    columns: dict[str, ColumnType] = Field(min_length=1)
    date_column: str
    label: str
    key: list[str] = []
    landing: LandingConfig
    schedule: ScheduleConfig
    validation: ValidationConfig = ValidationConfig()
    task: TaskType = "classification"
    training: TrainingConfig | None = None
    evaluation: EvaluationConfig = EvaluationConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    governance: GovernanceConfig = GovernanceConfig()
    promotion: PromotionConfig = PromotionConfig()

    @model_validator(mode="before")
    @classmethod
    def _approval_alias(cls, raw):
        """``governance.require_approval: true`` (the earlier switch) is ``promotion.approval: required``."""
        governance = raw.get("governance") if isinstance(raw, dict) else None
        if not isinstance(governance, dict) or "require_approval" not in governance:
            return raw
        governance = dict(governance)
        alias = "required" if governance.pop("require_approval") else "none"
        promotion = dict(raw.get("promotion") or {})
        if promotion.setdefault("approval", alias) != alias:
            raise ValueError("governance.require_approval and promotion.approval disagree; keep promotion.approval")
        return {**raw, "governance": governance, "promotion": promotion}

    @model_validator(mode="after")
    def _columns_declared(self) -> PipelineConfig:
        for field in ("date_column", "label"):
            if getattr(self, field) not in self.columns:
                raise ValueError(f"{field} '{getattr(self, field)}' is not listed under columns")
        missing = [c for c in self.key if c not in self.columns]
        if missing:
            raise ValueError(f"key columns {missing} are not listed under columns")
        if self.columns[self.date_column] != "date":
            raise ValueError(f"date_column '{self.date_column}' must have type 'date'")
        if self.training:
            features = self.training.numeric_features + self.training.categorical_features
            unknown = [c for c in features if c not in self.columns]
            if unknown:
                raise ValueError(f"training features {unknown} are not listed under columns")
            if self.label in features:
                raise ValueError(f"the label '{self.label}' cannot also be a feature")
            wrong = [e for e in self.training.estimators if ESTIMATORS[e].task != self.task]
            if wrong:
                raise ValueError(f"estimators {wrong} do not fit task '{self.task}' "
                                 f"(its estimators: {estimators_for(self.task)})")
            self._metrics_known()
        unknown = [c for c in self.monitoring.columns if c not in self.columns]
        if unknown:
            raise ValueError(f"monitoring columns {unknown} are not listed under columns")
        return self

    def _metrics_known(self) -> None:
        evaluation = self.evaluation
        for metric in [self.training.primary_metric, *evaluation.thresholds, *evaluation.compare_on]:
            if metric not in metrics_for(self.task):
                raise ValueError(f"metric '{metric}' is not one of {sorted(metrics_for(self.task))} for {self.task}")
        for metric in self.compared_metrics:
            if not METRICS[metric].paired:
                raise ValueError(f"metric '{metric}' cannot be compared with the champion (no paired statistic in "
                                 "core/catalogue.py); remove it from evaluation.compare_on")
        if isinstance(evaluation.max_regression, dict):
            stray = sorted(set(evaluation.max_regression) - set(self.compared_metrics))
            if stray:
                raise ValueError(f"evaluation.max_regression names {stray}, which are not compared "
                                 f"(compared: {self.compared_metrics}); add them to evaluation.compare_on")

    @property
    def compared_metrics(self) -> list[str]:
        """The metrics the gate compares with the champion: ``evaluation.compare_on``, else the primary metric."""
        if self.evaluation.compare_on:
            return list(dict.fromkeys(self.evaluation.compare_on))
        return [self.training.primary_metric] if self.training else []

    @property
    def stages(self) -> list[str]:
        """The DAGs this pipeline gets: ``<stage>_<name>``."""
        model_stages = ["train", "evaluate", "register", "rollback", "score", "monitor", "audit"]
        return ["ingest", "validate"] + (model_stages if self.training else [])

    @property
    def model_name(self) -> str:
        """Registered model name in MLflow."""
        return self.name

    @property
    def monitored_columns(self) -> list[str]:
        """Columns the drift check compares: the configured list, else the model's features."""
        if self.monitoring.columns or not self.training:
            return self.monitoring.columns or [c for c in self.columns if c not in (self.label, self.date_column)]
        return self.training.numeric_features + self.training.categorical_features

    @property
    def suite_name(self) -> str:
        return self.validation.suite or self.name

    def landing_path(self, ds: str) -> str:
        """Path of the day's landing file, relative to the landing root."""
        return self.landing.pattern.format(ds=ds, pipeline=self.name)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"field '{where}': {item['msg']}")
    return "; ".join(lines)


def load_config(path: Path) -> PipelineConfig:
    """Load and validate one pipeline file; the file name must match its ``name``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from exc
    if path.stem != config.name:
        raise ConfigError(f"{path}: field 'name' is '{config.name}' but the file is '{path.name}'; "
                          f"rename the file to {config.name}.yaml")
    return config


def load_pipelines(folder: Path | None = None) -> list[PipelineConfig]:
    """Every pipeline config in ``folder`` (default ``include/pipelines``), sorted by name."""
    folder = folder or settings.pipelines_dir()
    return [load_config(p) for p in sorted(folder.glob("*.yaml"))]


def load_pipeline(name: str, folder: Path | None = None) -> PipelineConfig:
    """The config of one pipeline by name."""
    if not re.match(NAME_PATTERN, name):
        raise ConfigError(f"'{name}' is not a valid pipeline name (expected {NAME_PATTERN})")
    path = (folder or settings.pipelines_dir()) / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"no pipeline config at {path}")
    return load_config(path)
