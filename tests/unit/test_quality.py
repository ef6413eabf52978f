"""Great Expectations validation of a real flights day against the versioned ``flights`` suite.

Importing GX costs seconds, so the module validates its frames once, in a module-scoped fixture
with its own state folder, and the tests inspect the reports.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from mlcycle import settings
from mlcycle.core import quality
from mlcycle.core.config import PipelineConfig, load_pipeline
from mlcycle.core.ingest import REASON_COLUMN, ingest_bytes
from mlcycle.errors import DataError

from .conftest import DAY

NOT_NULL_LABEL = "expect_column_values_to_not_be_null(is_late)"
ORIGIN_IN_SET = "expect_column_values_to_be_in_set(origin)"
KEY_UNIQUE = "expect_compound_columns_to_be_unique(['carrier', 'flight', 'origin', 'sched_dep_time'])"
COLUMNS_MATCH = "expect_table_columns_to_match_set"
ROW_COUNT = "expect_table_row_count_to_be_between"

NULL_LABEL_ROW, BAD_ORIGIN_ROW, KEY_ROW = 3, 5, 7


@dataclass
class Validated:
    frame: pd.DataFrame
    report: quality.QualityReport


@dataclass
class Run:
    home: Path
    docs_index: Path
    clean: Validated
    altered: Validated
    missing_column: Validated
    too_few_rows: Validated
    project_before: dict[str, bytes]
    project_after: dict[str, bytes]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, day_csv: bytes) -> Run:
    """Validate four frames built from the ingested 2013-01-02 once, in a fresh state folder."""
    home = tmp_path_factory.mktemp("quality") / "state"
    config = load_pipeline("flights")
    typed, _ = ingest_bytes(day_csv, config, DAY, "test")
    clean = typed[typed["is_late"].notna()].reset_index(drop=True)  # cancelled flights removed

    altered = clean.copy()
    altered.loc[NULL_LABEL_ROW, "is_late"] = pd.NA
    altered.loc[BAD_ORIGIN_ROW, "origin"] = "XXX"
    twin = altered.iloc[[KEY_ROW]].assign(is_late=1 - altered.loc[KEY_ROW, "is_late"])  # same key, new label
    altered = pd.concat([altered, twin], ignore_index=True)

    frames = {"clean": clean, "altered": altered, "missing_column": clean.drop(columns=["temp"]),
              "too_few_rows": clean.head(20)}
    before = snapshot(settings.gx_project_dir())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLCYCLE_HOME", str(home))
        results = {name: Validated(frame, quality.validate(frame, "flights", f"unit-{name}"))
                   for name, frame in frames.items()}
        docs_index = quality.data_docs_index()
    return Run(home=home, docs_index=docs_index, project_before=before,
               project_after=snapshot(settings.gx_project_dir()), **results)


def test_clean_day_passes(run: Run) -> None:
    report = run.clean.report
    assert report.success
    assert report.rows == len(run.clean.frame) == 928
    assert report.failed_rows == 0
    assert report.failed_expectations == []
    assert report.table_failures == []
    assert report.reasons == {}


def test_altered_rows_are_found(run: Run) -> None:
    report = run.altered.report
    assert not report.success
    assert report.rows == 929
    assert sorted(report.failed_expectations) == sorted([NOT_NULL_LABEL, ORIGIN_IN_SET, KEY_UNIQUE])
    assert report.table_failures == []
    # GX flags both rows that share a key, not just the later one
    assert report.reasons == {NULL_LABEL_ROW: [NOT_NULL_LABEL], BAD_ORIGIN_ROW: [ORIGIN_IN_SET],
                              KEY_ROW: [KEY_UNIQUE], 928: [KEY_UNIQUE]}
    assert report.failed_rows == 4
    assert report.failed_share == pytest.approx(4 / 929)


def test_summary_is_json_friendly(run: Run) -> None:
    summary = run.altered.report.summary()
    assert summary["rows"] == 929
    assert summary["failed_rows"] == 4
    assert summary["failed_share"] == round(4 / 929, 4)
    assert summary["success"] is False
    assert set(summary["failed_expectations"]) == {NOT_NULL_LABEL, ORIGIN_IN_SET, KEY_UNIQUE}
    assert summary["docs_url"].startswith("file://")


def test_split_failing_rows_quarantines_with_reasons(run: Run) -> None:
    frame, report = run.altered.frame, run.altered.report
    passing, failing = quality.split_failing_rows(frame, report)
    assert len(passing) == 925
    assert len(failing) == 4
    assert list(passing.columns) == list(frame.columns)
    assert list(failing.columns) == [*frame.columns, REASON_COLUMN]
    reasons = dict(zip(failing["origin"] + "/" + failing["flight"].astype(str), failing[REASON_COLUMN], strict=True))
    assert reasons[f"XXX/{frame.loc[BAD_ORIGIN_ROW, 'flight']}"] == ORIGIN_IN_SET
    assert failing.loc[failing["is_late"].isna(), REASON_COLUMN].tolist() == [NOT_NULL_LABEL]
    assert (failing[REASON_COLUMN] == KEY_UNIQUE).sum() == 2
    assert passing["is_late"].notna().all()
    assert (passing["origin"] != "XXX").all()
    assert not passing.duplicated(["carrier", "flight", "origin", "sched_dep_time"]).any()


def test_split_failing_rows_of_a_clean_day_keeps_everything(run: Run) -> None:
    passing, failing = quality.split_failing_rows(run.clean.frame, run.clean.report)
    pd.testing.assert_frame_equal(passing, run.clean.frame)
    assert failing.empty


def test_a_row_failing_two_expectations_names_both() -> None:
    report = quality.QualityReport(success=False, rows=3, failed_rows=1, failed_expectations=["a", "b"],
                                   table_failures=[], docs_url="", reasons={1: ["a", "b"]})
    frame = pd.DataFrame({"x": [10, 11, 12]}, index=[7, 8, 9])  # index is reset like validate() does
    passing, failing = quality.split_failing_rows(frame, report)
    assert passing["x"].tolist() == [10, 12]
    assert failing.to_dict("records") == [{"x": 11, REASON_COLUMN: "a; b"}]


def test_gate_passes_under_the_configured_share(run: Run, flights_config: PipelineConfig) -> None:
    quality.gate(run.altered.report, flights_config.validation.max_quarantine_share, "flights 2013-01-02")
    quality.gate(run.clean.report, 0.0, "flights 2013-01-02")


def test_gate_fails_above_the_share(run: Run) -> None:
    with pytest.raises(quality.QualityError) as caught:
        quality.gate(run.altered.report, 0.001, "flights 2013-01-02")
    message = str(caught.value)
    assert "flights 2013-01-02: 4 of 929 rows" in message
    assert "above the limit of 0.1%" in message
    assert NOT_NULL_LABEL in message
    assert "Nothing was published" in message
    assert run.altered.report.docs_url in message
    assert isinstance(caught.value, DataError)


def test_missing_column_is_a_table_failure(run: Run) -> None:
    report = run.missing_column.report
    assert not report.success
    assert COLUMNS_MATCH in report.table_failures
    # a row expectation on the missing column cannot judge rows: it fails the batch too
    assert "expect_column_values_to_be_between(temp)" in report.table_failures
    with pytest.raises(quality.QualityError, match="table-level expectations failed") as caught:
        quality.gate(report, 1.0, "flights 2013-01-02")  # even with no row limit at all
    assert COLUMNS_MATCH in str(caught.value)


def test_too_few_rows_is_a_table_failure(run: Run) -> None:
    report = run.too_few_rows.report
    assert report.table_failures == [ROW_COUNT]
    assert report.failed_rows == 0
    with pytest.raises(quality.QualityError, match=ROW_COUNT):
        quality.gate(report, 1.0, "flights 2013-01-02")


def test_data_docs_are_built(run: Run) -> None:
    assert run.docs_index == run.home.resolve() / "gx" / "data_docs" / "index.html"
    assert run.docs_index.is_file()
    index = run.docs_index.read_text()
    assert "flights" in index
    for validated in (run.clean, run.altered, run.missing_column):
        page = Path(validated.report.docs_url.removeprefix("file://"))
        assert page.is_file()
        assert page.is_relative_to(run.home.resolve() / "gx" / "data_docs")


def test_validation_writes_only_under_the_state_folder(run: Run) -> None:
    runtime = run.home.resolve() / "gx"
    assert (runtime / "great_expectations.yml").is_file()
    assert any((runtime / "validations").rglob("*.json"))
    # the versioned GX project (config template and suites) is read, never written
    assert "expectations/flights.json" in run.project_before
    assert run.project_after == run.project_before


def test_unknown_suite(state: Path) -> None:
    with pytest.raises(quality.QualityError, match="no expectation suite 'nosuch'"):
        quality.validate(pd.DataFrame({"x": [1]}), "nosuch", "unit-nosuch")


def test_the_data_docs_index_lists_the_latest_runs_and_every_run_keeps_its_page(
        run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index reads every result it lists: it lists the latest ``validation_results_limit`` runs (the
    project's 30; 2 here), so a long backfill does not slow down day after day."""
    project = tmp_path / "gx-project"
    shutil.copytree(settings.gx_project_dir(), project)
    config = project / "great_expectations.yml"
    assert "validation_results_limit: 30" in config.read_text()
    config.write_text(config.read_text().replace("validation_results_limit: 30", "validation_results_limit: 2"))
    monkeypatch.setenv("MLCYCLE_GX_DIR", str(project))
    monkeypatch.setenv("MLCYCLE_HOME", str(tmp_path / "state"))
    reports = [quality.validate(run.clean.frame.head(30), "flights", f"limit-run-{i}") for i in range(3)]
    index = quality.data_docs_index().read_text()
    assert "limit-run-0" not in index
    assert "limit-run-1" in index
    assert "limit-run-2" in index
    assert all(Path(r.docs_url.removeprefix("file://")).is_file() for r in reports)
