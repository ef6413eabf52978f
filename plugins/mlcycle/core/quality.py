"""Data quality with Great Expectations 1.x: validate a batch, split failing rows, build Data Docs.

The GX project (``include/gx``) is versioned: ``great_expectations.yml`` and one suite per pipeline
under ``expectations/``. Runs use a file context rooted in the state folder, made from a copy of
that config and those suites, so validating never rewrites versioned files; results and Data Docs
land there too.

Expectations that judge single rows (column map expectations) send the failing rows to quarantine.
Any other failing expectation (schema, row count, ...) fails the whole batch.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle import settings
from mlcycle.core.ingest import REASON_COLUMN
from mlcycle.core.locks import file_lock
from mlcycle.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
DATASOURCE = "mlcycle"


class QualityError(DataError):
    """The batch failed validation; nothing was published."""


@dataclass
class QualityReport:
    """Outcome of one validation: which expectations failed and which rows to quarantine."""

    success: bool
    rows: int
    failed_rows: int
    failed_expectations: list[str]
    table_failures: list[str]
    docs_url: str
    reasons: dict[int, list[str]] = field(default_factory=dict, repr=False)

    @property
    def failed_share(self) -> float:
        return self.failed_rows / self.rows if self.rows else 0.0

    def summary(self) -> dict[str, Any]:
        return {"success": self.success, "rows": self.rows, "failed_rows": self.failed_rows,
                "failed_share": round(self.failed_share, 4), "failed_expectations": self.failed_expectations,
                "table_failures": self.table_failures, "docs_url": self.docs_url}


def _context():
    # GX logs ~200 INFO lines about its own decorators on import: keep task logs readable.
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    import great_expectations as gx

    runtime = settings.gx_runtime_dir()
    runtime.mkdir(parents=True, exist_ok=True)
    project = settings.gx_project_dir()
    shutil.copy(project / "great_expectations.yml", runtime / "great_expectations.yml")
    # GX re-saves a suite whenever a definition using it is saved: give it a copy, never the versioned file.
    shutil.copytree(project / "expectations", runtime / "expectations", dirs_exist_ok=True)
    return gx.get_context(mode="file", context_root_dir=str(runtime),
                          runtime_environment={"MLCYCLE_GX_RUNTIME": str(runtime)})


def _suite(context, suite_name: str):
    """The suite from the context; a missing file and a file GX cannot parse are told apart."""
    path = settings.gx_project_dir() / "expectations" / f"{suite_name}.json"
    if not path.exists():
        raise QualityError(f"no expectation suite '{suite_name}': {path} does not exist")
    try:
        return context.suites.get(suite_name)
    except Exception as exc:  # GX raises its own DataContextError, wrapping pydantic's ValidationError
        raise QualityError(f"the expectation suite {path} does not parse: {exc}. Fix the expectation it names, "
                           f"then re-run the day (validate DAG, Param ds)") from exc


def load_suite(suite_name: str):
    """Load the versioned suite with GX itself (what a validate task will do); :class:`QualityError` with
    GX's own message when it does not parse."""
    settings.quiet_third_parties()
    with file_lock(settings.gx_runtime_dir() / ".lock"):
        return _suite(_context(), suite_name)


def _describe(result) -> str:
    config = result.expectation_config
    target = config.kwargs.get("column") or config.kwargs.get("column_list") or ""
    return f"{config.type}({target})" if target else config.type


def _row_indexes(result) -> list[int] | None:
    """Indexes of the rows a row-level expectation rejected; None for table-level ones."""
    details = result.result or {}
    if "unexpected_index_list" not in details:
        return None
    indexes = details["unexpected_index_list"] or []
    return [i["index"] if isinstance(i, dict) else int(i) for i in indexes]


def validate(frame: pd.DataFrame, suite_name: str, run_name: str) -> QualityReport:
    """Validate ``frame`` against the versioned suite ``suite_name`` and rebuild Data Docs."""
    import great_expectations as gx

    settings.quiet_third_parties()
    frame = frame.reset_index(drop=True)
    with file_lock(settings.gx_runtime_dir() / ".lock"):
        context = _context()
        suite = _suite(context, suite_name)
        asset = context.data_sources.add_or_update_pandas(DATASOURCE).add_dataframe_asset(suite_name)
        batch = asset.add_batch_definition_whole_dataframe("daily")
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite_name, data=batch, suite=suite))
        checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
            name=suite_name, validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            result_format={"result_format": "COMPLETE"}))
        outcome = checkpoint.run(batch_parameters={"dataframe": frame},
                                 run_id=gx.core.run_identifier.RunIdentifier(run_name=run_name))
        identifier, validation = next(iter(outcome.run_results.items()))
        docs = context.get_docs_sites_urls(resource_identifier=identifier)
    reasons: dict[int, list[str]] = {}
    failed, table_failures = [], []
    for result in validation.results:
        if result.success:
            continue
        name = _describe(result)
        failed.append(name)
        indexes = _row_indexes(result)
        if indexes is None:
            table_failures.append(name)
        for index in indexes or []:
            reasons.setdefault(index, []).append(name)
    docs_url = docs[0]["site_url"] if docs else ""
    log.info("GX suite %s: %d rows, %d failing rows, failed expectations %s; Data Docs %s",
             suite_name, len(frame), len(reasons), failed, docs_url)
    return QualityReport(success=validation.success, rows=len(frame), failed_rows=len(reasons),
                         failed_expectations=failed, table_failures=table_failures, docs_url=docs_url,
                         reasons=reasons)


def split_failing_rows(frame: pd.DataFrame, report: QualityReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (passing rows, failing rows with the expectations each failed)."""
    frame = frame.reset_index(drop=True)
    failing = frame.index.isin(list(report.reasons))
    quarantined = frame[failing].copy()
    quarantined[REASON_COLUMN] = ["; ".join(report.reasons[i]) for i in quarantined.index]
    return frame[~failing].reset_index(drop=True), quarantined.reset_index(drop=True)


def gate(report: QualityReport, max_share: float, source: str) -> None:
    """Fail the batch on any table-level failure or too many failing rows."""
    if report.table_failures:
        raise QualityError(f"{source}: table-level expectations failed: {', '.join(report.table_failures)}. "
                           f"Nothing was published. See Data Docs: {report.docs_url}")
    if report.failed_share > max_share:
        raise QualityError(f"{source}: {report.failed_rows} of {report.rows} rows "
                           f"({report.failed_share:.1%}) failed {', '.join(report.failed_expectations)}, "
                           f"above the limit of {max_share:.1%} (validation.max_quarantine_share). "
                           f"Nothing was published. See Data Docs: {report.docs_url}")


def data_docs_index() -> Path:
    """Local path of the Data Docs home page."""
    return settings.gx_runtime_dir() / "data_docs" / "index.html"
