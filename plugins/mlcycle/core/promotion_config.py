"""The config sections of the promotion gate and of governance (``evaluation``, ``promotion``, ``governance``),
part of the pipeline config schema of :mod:`mlcycle.core.config`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """A config section: unknown fields are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EvaluationConfig(Strict):
    """The promotion gate. Without thresholds nothing is ever blessed."""

    thresholds: dict[str, float] = Field(
        default_factory=dict, description="Absolute floor (or ceiling, for error metrics) per metric.")
    compare_on: list[str] = Field(
        default_factory=list, description="Metrics compared with the champion (paired bootstrap on the same holdout "
                                          "rows); empty: training.primary_metric.")
    max_regression: float | dict[str, float] = Field(
        0.0, description="Tolerance: how much worse than the champion the challenger may be, in the metric's units; "
                         "one number for every compared metric, or one per metric ({roc_auc: 0.01, ...}).")
    confidence: float = Field(0.95, gt=0.5, lt=1, description="Confidence of the interval of (challenger - champion).")
    resamples: int = Field(1000, ge=0, le=100_000, description="Bootstrap resamples; 0: no interval, the point "
                                                              "difference decides (promote or reject).")
    seed: int = Field(0, ge=0, description="Seed of the resampling: the same seed gives the same intervals.")
    allow_inconclusive: bool = Field(False, description="Promote when an interval straddles -tolerance "
                                                        "(inconclusive); default: not promoted.")

    @model_validator(mode="after")
    def _tolerances(self) -> EvaluationConfig:
        tolerances = self.max_regression.values() if isinstance(self.max_regression, dict) else [self.max_regression]
        if any(t < 0 for t in tolerances):
            raise ValueError("max_regression must not be negative")
        return self

    def tolerance(self, metric: str) -> float:
        """The compared metric's tolerance (0 where a per-metric mapping leaves it out)."""
        if isinstance(self.max_regression, dict):
            return self.max_regression.get(metric, 0.0)
        return self.max_regression


class PromotionConfig(Strict):
    """After the gate passes: whether a person must approve the promotion in Airflow."""

    approval: Literal["required", "none"] = Field(
        "none", description="required: an approval task in register_<p> asks a person (Airflow's required actions); "
                            "approve moves champion, reject or a timeout records it and nothing moves.")
    timeout_hours: float = Field(72, gt=0, description="An unanswered request is closed after this long and recorded "
                                                       "as approval=timedout (nothing moves).")


class GovernanceConfig(Strict):
    """What a champion must carry to be used, and what happens when someone else moves it."""

    on_manual_alias: Literal["revert", "alert"] = Field(
        "revert", description="A move of champion or previous the pipeline did not make is recorded and notified; "
                              "revert: the aliases go back to what the pipeline last set; alert: they stay.")
    audit_cron: str | None = Field("*/10 * * * *", description="Schedule of audit_<p> (UTC); null: by hand only. "
                                                               "Score and monitor audit at their start anyway.")
