"""Builds every stage's DAG for every pipeline config. The files in ``dags/`` only call this.

Parse-time work is reading the YAML configs: no database query, no connection look-up and no
heavy import (pandas, GX, DVC ... load inside the tasks).
"""

from __future__ import annotations

import datetime as dt
import itertools

from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable, Param
from airflow.timetables.events import EventsTimetable  # the SDK's drops `_summary` on serialization (3.3)

from mlcycle import settings
from mlcycle.core import lake, suite_check
from mlcycle.core.config import PipelineConfig, load_config, load_pipelines
from mlcycle.orchestration.assets import pipeline_asset
from mlcycle.orchestration.notifiers import TaskFailureNotifier
from mlcycle.orchestration.operators import (
    AuditOperator,
    DriftAlertOperator,
    EvaluateOperator,
    IngestDatesOperator,
    IngestOperator,
    LandingFileSensor,
    MonitorOperator,
    RegisterOperator,
    ResolvePartitionsOperator,
    RollbackOperator,
    ScoreOperator,
    TrainOperator,
    ValidateOperator,
)


def _utc(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) if day else None


def _common(config: PipelineConfig, stage: str, doc: str) -> dict:
    return {
        "dag_id": f"{stage}_{config.name}",
        "description": f"{stage} · {config.description}",
        "doc_md": f"### {stage}_{config.name}\n{doc}\n\nPipeline config: `include/pipelines/{config.name}.yaml`.",
        "tags": sorted({*config.tags, stage, "mlcycle"}),
        "default_args": {"owner": config.owner, "retries": config.retries,
                         "retry_delay": dt.timedelta(seconds=config.retry_delay_seconds),
                         "on_failure_callback": TaskFailureNotifier(pipeline=config.name)},
        "start_date": _utc(config.schedule.start_date),
        "catchup": False,
        "is_paused_upon_creation": config.schedule.paused_upon_creation,
    }


def ingest_dag(config: PipelineConfig) -> DAG:
    """``ingest_<p>``: wait for the day's file, type it, write ``raw/<p>/ds=<ds>``, version it with DVC."""
    landing = lake.landing_file(config.landing.pattern)  # for the docs
    kwargs = _common(config, "ingest", "Wait for the day's file, type it, write `raw/<p>/ds=<ds>`, version it "
                     f"with DVC.\n\nWaits for `{landing}` until it is ready (`landing.ready`: {config.landing.ready}). "
                     "Backfill a range from the trigger form (From / To; one wait and one ingest per chunk "
                     f"of {config.schedule.backfill_chunk_days} days, `Days per task`), or with `airflow "
                     f"backfill create --dag-id ingest_{config.name} --from-date ... --to-date ...`. A corrected "
                     "file for a day already ingested: run the day again (From = To = the day); validate, score "
                     "and monitor redo that day.")
    kwargs.update(catchup=config.schedule.catchup, max_active_runs=4)
    params = {
        "from_date": Param(None, type=["null", "string"], format="date", title="From (backfill)",
                           description="First day to ingest (YYYY-MM-DD). Empty: the run's logical date only."),
        "to_date": Param(None, type=["null", "string"], format="date", title="To (backfill)",
                         description="Last day to ingest, inclusive (at most 366 days after From)."),
        "chunk_days": Param(None, type=["null", "integer"], minimum=1, maximum=366, title="Days per task (backfill)",
                            description="Days each wait, ingest and validate task handles in a From / To range. "
                                        f"Empty: {config.schedule.backfill_chunk_days} "
                                        "(schedule.backfill_chunk_days); 1: one task per day."),
    }
    with DAG(schedule=_ingest_schedule(config), params=params, **kwargs) as dag:
        dates = IngestDatesOperator(task_id="dates", last_day=str(config.schedule.end_date or ""),
                                    default_chunk_days=config.schedule.backfill_chunk_days,
                                    config_file=str(settings.pipelines_dir() / f"{config.name}.yaml"))
        wait = LandingFileSensor.partial(task_id="wait_for_file", poke_interval=config.landing.poke_seconds,
                                         timeout=config.landing.timeout_minutes * 60, ready=config.landing.ready,
                                         stable_seconds=config.landing.stable_seconds, marker=config.landing.marker,
                                         ).expand(uri=dates.output.map(_landing_uri(config)))
        ingest = IngestOperator.partial(task_id="ingest", pipeline=config.name,
                                        outlets=[pipeline_asset("raw", config.name)]).expand(ds=dates.output)
        wait >> ingest
    return dag


def _ingest_schedule(config: PipelineConfig) -> str | EventsTimetable:
    """The cron, or with an ``end_date`` the cron's times up to it as events.

    Not the DAG's ``end_date``: Airflow gives a run after it no task at all, so a day triggered after
    the end would "succeed" doing nothing. With events, such a run starts, and its first task refuses
    the day with the reason and the fix.
    """
    schedule = config.schedule
    if schedule.end_date is None:
        return schedule.cron
    from croniter import croniter

    times, last = croniter(schedule.cron, _utc(schedule.start_date) - dt.timedelta(seconds=1)), _utc(schedule.end_date)
    events = list(itertools.takewhile(lambda t: t <= last, (times.get_next(dt.datetime) for _ in itertools.count())))
    return EventsTimetable(event_dates=events, presorted=True, description=f"{schedule.cron} until {schedule.end_date}")


def _landing_uri(config: PipelineConfig):
    """Chunk of days -> URIs of their landing files (applied on the worker to the ``dates`` task's output)."""
    root = settings.landing_uri()

    def uri(days: list[str]) -> list[str]:
        return [lake.landing_file(config.landing_path(ds), root) for ds in days]
    return uri


def validate_dag(config: PipelineConfig) -> DAG:
    """``validate_<p>``: GX suite on each new raw partition; failing rows to quarantine, the rest published."""
    kwargs = _common(config, "validate", "GX suite on each new raw partition; failing rows to quarantine, the rest "
                     "published.\n\nRuns when `raw." + config.name + "` gets new partitions, or by hand for one date.")
    params = {"ds": _ds_param("Validate", "raw"), "accept_volume": Param(
        False, type="boolean", title="Accept an unusual row count",
        description="Skip the volume check (validation.volume_*) in this run: for a day you know is right.")}
    with DAG(schedule=[pipeline_asset("raw", config.name)], params=params, max_active_runs=1, **kwargs) as dag:
        dates = ResolvePartitionsOperator(task_id="partitions", pipeline=config.name)
        ValidateOperator.partial(task_id="validate", pipeline=config.name,
                                 outlets=[pipeline_asset("validated", config.name)]).expand(ds=dates.output)
    return dag


def _ds_param(what: str, upstream: str) -> Param:
    return Param(None, type=["null", "string"], format="date", title="Partition date",
                 description=f"{what} this date by hand (YYYY-MM-DD). Empty: the dates of the triggering "
                             f"{upstream} Asset events, plus any day not handled yet.")


def _version_param(what: str) -> Param:
    return Param(None, type=["null", "integer"], minimum=1, title="Model version",
                 description=f"{what} this version by hand. Empty: the version(s) of the triggering Asset events.")


def train_dag(config: PipelineConfig) -> DAG:
    """``train_<p>``: train on the validated window, log to MLflow, register the ``challenger``."""
    monitoring = config.monitoring
    drift = pipeline_asset("drift", config.name)
    when = f"Runs on `drift.{config.name}` (monitor or external alert)"
    schedule: AssetOrTimeSchedule | list = [drift]
    if monitoring.retrain_cron:
        schedule = AssetOrTimeSchedule(timetable=CronTriggerTimetable(monitoring.retrain_cron, timezone="UTC"),
                                       assets=drift)
        when += f", on the schedule `{monitoring.retrain_cron}` (UTC)"
    kwargs = _common(config, "train", "Build the training snapshot from the validated window (versioned with "
                     "DVC), search, fit, log to MLflow and register the model as `challenger`; emits "
                     f"`candidate.{config.name}` for the Evidently gate.\n\n{when}, and by hand. A drift alert "
                     f"within {monitoring.cooldown_minutes} min of the last drift-triggered training is recorded "
                     "and skipped. The cause (alert extras, schedule or your reason) is recorded on the MLflow run.")
    params = training_params(config)
    with DAG(schedule=schedule, params=params, max_active_runs=1, **kwargs) as dag:
        TrainOperator(task_id="train", pipeline=config.name)
    return dag


def training_params(config: PipelineConfig) -> dict[str, Param]:
    """The trigger form of a training: window end and length, estimator and reason, bounded by the config."""
    training = config.training
    return {
        "window_end": Param(None, type=["null", "string"], format="date", title="Last day of the window",
                            description="YYYY-MM-DD. Empty: the latest validated day."),
        "window_days": Param(None, type=["null", "integer"], minimum=training.min_window_days, maximum=366,
                             title="Window (days)", description=f"Empty: {training.window_days} from the config."),
        "estimator": Param(None, type=["null", "string"], enum=[None, *training.estimators], title="Estimator",
                           description=f"Config default: {training.estimator}.",
                           # the form labels an enum value by its string, None as "null"
                           values_display={"null": f"config default ({training.estimator})"}),
        "reason": Param(None, type=["null", "string"], title="Reason",
                        description="Why you retrain; recorded on the MLflow run."),
    }


def evaluate_dag(config: PipelineConfig) -> DAG:
    """``evaluate_<p>``: the Evidently gate, challenger against champion on the same holdout."""
    kwargs = _common(config, "evaluate", "Score challenger and champion on the challenger's holdout and run the "
                     "Evidently report with tests (absolute thresholds, and no worse than the champion by more than "
                     "the tolerance). Report and verdict are attached to the model version.")
    with DAG(schedule=[pipeline_asset("candidate", config.name)], params={"version": _version_param("Evaluate")},
             max_active_runs=1, **kwargs) as dag:
        EvaluateOperator(task_id="evaluate", pipeline=config.name)
    return dag


def register_dag(config: PipelineConfig) -> DAG:
    """``register_<p>``: promote a version that passed the gate, record one that failed."""
    approval = config.promotion.approval == "required"
    asks = (f"\n\n`promotion.approval: required`: a version that passed the gate waits for a person in **Required "
            f"actions** (task `approve`). Approve: `champion` moves. Reject, or no answer within "
            f"{config.promotion.timeout_hours:g} h: recorded (`approval=rejected|timedout`), nothing moves. A newer "
            "candidate supersedes an older one still waiting (`approval=superseded`).") if approval else ""
    kwargs = _common(config, "register", "Gate passed: alias `champion` moves, the old champion becomes "
                     "`previous`. Gate failed: the version is tagged rejected with the reasons and the champion "
                     "stays. Serialised: one-slot pool" + (" (requests wait outside it)" if approval else
                                                          " and one active run") + "." + asks)
    params = {"version": _version_param("Register"),
              "reason": Param(None, type=["null", "string"], title="Reason", description="Why you register this "
                              "version by hand; recorded in the promotion history next to the gate's verdict.")}
    with DAG(schedule=[pipeline_asset("evaluated", config.name)], params=params,
             max_active_runs=4 if approval else 1, **kwargs) as dag:
        register = RegisterOperator(task_id="register", pipeline=config.name, pool=settings.PROMOTION_POOL)
        if approval:
            from mlcycle.orchestration.operators.approval import PromotionApprovalOperator

            register >> PromotionApprovalOperator(task_id="approve", pipeline=config.name,
                                                  timeout_hours=config.promotion.timeout_hours)
    return dag


def rollback_dag(config: PipelineConfig) -> DAG:
    """``rollback_<p>``: move ``champion`` back, by hand."""
    kwargs = _common(config, "rollback", "Move `champion` back to a version that passed the gate (default: the "
                     "`previous` champion), and record the move in the promotion history.")
    params = {"version": Param(None, type=["null", "integer"], minimum=1, title="Version to restore",
                               description="Empty: the previous champion."),
              "reason": Param("", type="string", minLength=3, title="Reason", description="Recorded in the history.")}
    with DAG(schedule=None, params=params, max_active_runs=1, **kwargs) as dag:
        RollbackOperator(task_id="rollback", pipeline=config.name, pool=settings.PROMOTION_POOL)
    return dag


def score_dag(config: PipelineConfig) -> DAG:
    """``score_<p>``: batch predictions of the champion for each new validated day."""
    kwargs = _common(config, "score", f"Batch predictions of `models:/{config.model_name}@champion` for each new "
                     f"validated day, to `predictions/{config.name}/ds=<day>/`, the model version on every row. "
                     "Skipped while there is no champion.")
    with DAG(schedule=[pipeline_asset("validated", config.name)], params={"ds": _ds_param("Score", "validated")},
             max_active_runs=1, **kwargs) as dag:
        dates = ResolvePartitionsOperator(task_id="partitions", pipeline=config.name, stage="score")
        ScoreOperator.partial(task_id="score", pipeline=config.name).expand(ds=dates.output)
    return dag


def monitor_dag(config: PipelineConfig) -> DAG:
    """``monitor_<p>``: Evidently drift and quality of each new day; raises ``drift.<p>`` when it drifts."""
    monitoring = config.monitoring
    kwargs = _common(config, "monitor", "Evidently report of each new validated day against the champion's own "
                     "training snapshot (loaded from DVC): data drift, drift of the model's output and, with labels, "
                     f"model quality. Figures go to the MLflow experiment `{config.model_name}-monitoring`. "
                     f"`drift.{config.name}` is raised when the drifted share reaches {monitoring.drift_share} or "
                     f"{config.training.primary_metric} drops by more than {monitoring.quality_drop}.")
    params = {
        "ds": _ds_param("Monitor", "validated"),
        "drift_share": Param(None, type=["null", "number"], exclusiveMinimum=0, maximum=1, title="Drift share",
                             description=f"Override: share of drifted columns that raises drift. Empty: "
                                         f"{monitoring.drift_share} from the config."),
        "quality_drop": Param(None, type=["null", "number"], minimum=0, title="Quality drop",
                              description=f"Override: drop of {config.training.primary_metric} below the champion's "
                                          f"holdout that raises drift. Empty: {monitoring.quality_drop}."),
    }
    with DAG(schedule=[pipeline_asset("validated", config.name)], params=params, max_active_runs=1, **kwargs) as dag:
        dates = ResolvePartitionsOperator(task_id="partitions", pipeline=config.name, stage="monitor")
        checks = MonitorOperator.partial(task_id="monitor", pipeline=config.name).expand(ds=dates.output)
        DriftAlertOperator(task_id="raise_drift", pipeline=config.name, results=checks.output,
                           trigger_rule="none_failed")
    return dag


def audit_dag(config: PipelineConfig) -> DAG:
    """``audit_<p>``: who moved the champion, on a schedule (score and monitor also audit at their start)."""
    governance = config.governance
    when = f"on the schedule `{governance.audit_cron}` (UTC)" if governance.audit_cron else "by hand"
    kwargs = _common(config, "audit", "Compare aliases `champion` and `previous` with the pipeline's last promotion "
                     "record (written by register and rollback before they move an alias). A move the pipeline did "
                     "not make is recorded in the promotion history as an incident, notified, and "
                     f"{'reverted' if governance.on_manual_alias == 'revert' else 'left as is'} "
                     f"(`governance.on_manual_alias: {governance.on_manual_alias}`).\n\nRuns {when}.")
    with DAG(schedule=governance.audit_cron, max_active_runs=1, **kwargs) as dag:
        AuditOperator(task_id="audit", pipeline=config.name)
    return dag


def configured(name: str) -> PipelineConfig | None:
    """The config of pipeline ``name``, or None where it is not configured (then a hand-written DAG of
    that pipeline is not built, as the factory builds no DAG for it)."""
    path = settings.pipelines_dir() / f"{name}.yaml"
    return load_config(path) if path.exists() else None


def build(stage_factory) -> dict[str, DAG]:
    """One DAG per pipeline config for the given stage factory, keyed by dag_id."""
    stage = stage_factory.__name__.removesuffix("_dag")
    configs = [c for c in load_pipelines() if stage in c.stages]
    for config in configs:  # a suite that does not fit its config is an import error now, not a red task later
        suite_check.check(config)
    return {dag.dag_id: dag for dag in map(stage_factory, configs)}
