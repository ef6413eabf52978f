"""The pipeline scaffold: it writes a config, a suite and a landing folder that the factory and GX accept."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mlcycle import settings
from mlcycle.tools import scaffold

SAMPLE = """\
sale_date,store,basket_id,price,units,promo,revenue
2024-05-01,north,b-0001,2.5,3,true,7.5
2024-05-01,south,b-0002,4.0,1,false,4.0
2024-05-01,north,b-0003,1.25,8,false,10.0
2024-05-02,east,b-0004,3.0,2,true,6.0
2024-05-02,south,b-0005,,5,false,
2024-05-02,north,b-0006,2.0,4,false,8.0
"""


@pytest.fixture
def project(tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty pipelines and GX folders (with the versioned GX config), as a fresh clone would have them."""
    monkeypatch.setenv("MLCYCLE_PIPELINES_DIR", str(tmp_path / "pipelines"))
    monkeypatch.setenv("MLCYCLE_GX_DIR", str(tmp_path / "gx"))
    (tmp_path / "gx" / "expectations").mkdir(parents=True)
    shutil.copy(settings.INCLUDE_DIR / "gx" / "great_expectations.yml", tmp_path / "gx")
    (tmp_path / "sample.csv").write_text(SAMPLE)
    return tmp_path


def _dag_ids(config) -> set[str]:
    from mlcycle.orchestration import factory

    return {getattr(factory, f"{stage}_dag")(config).dag_id for stage in config.stages}


def test_a_profiled_sample_gives_a_config_the_factory_builds_every_dag_from(project: Path, capsys) -> None:
    from mlcycle.core.config import load_pipeline
    from mlcycle.orchestration import factory

    assert scaffold.main(["sales", "--from-csv", str(project / "sample.csv")]) == 0
    assert "ingest_sales" in capsys.readouterr().out
    config = load_pipeline("sales")
    assert config.columns == {"sale_date": "date", "store": "string", "basket_id": "string", "price": "float",
                              "units": "int", "promo": "bool", "revenue": "float"}
    assert (config.date_column, config.label, config.task) == ("sale_date", "revenue", "regression")
    assert config.training.numeric_features == ["price", "units", "promo"]
    assert config.training.categorical_features == ["store", "basket_id"]  # six rows: every id looks categorical
    assert str(config.schedule.start_date) == "2024-05-01"
    assert (settings.state_dir() / "landing" / "sales").is_dir()
    assert _dag_ids(config) == {f"{s}_sales" for s in config.stages}
    assert len(config.stages) == 9
    assert "ingest_sales" in factory.build(factory.ingest_dag), "the dags/ files pick it up unchanged"
    comments = (project / "pipelines" / "sales.yaml").read_text()
    assert "# EDIT" in comments
    assert "docs/adding-a-pipeline.md" in comments


def test_the_starter_suite_comes_from_the_sample_and_passes_it(project: Path) -> None:
    from mlcycle.core import storage
    from mlcycle.core.config import load_pipeline
    from mlcycle.stages import ingestion

    scaffold.main(["sales", "--from-csv", str(project / "sample.csv")])
    suite = json.loads((project / "gx" / "expectations" / "sales.json").read_text())
    by_type: dict[str, list[dict]] = {}
    for expectation in suite["expectations"]:
        by_type.setdefault(expectation["type"], []).append(expectation["kwargs"])
    assert by_type["expect_table_columns_to_match_set"] == [{"column_set": list(SAMPLE.split("\n")[0].split(","))}]
    assert by_type["expect_table_row_count_to_be_between"] == [{"min_value": 1, "max_value": 6}]
    assert {k["column"] for k in by_type["expect_column_values_to_not_be_null"]} == {
        "store", "basket_id", "units", "promo", "revenue"}, "the label always; others only when never empty"
    ranges = {k["column"]: (k["min_value"], k["max_value"]) for k in by_type["expect_column_values_to_be_between"]}
    assert ranges["units"] == (0.0, 9.0)
    assert ranges["price"] == (0.975, 4.275)
    assert {"column": "store", "value_set": ["east", "north", "south"]} in by_type["expect_column_values_to_be_in_set"]

    config = load_pipeline("sales")
    header, *rows = SAMPLE.splitlines()
    day = "\n".join([header, *(r for r in rows if r.startswith("2024-05-01"))])
    storage.write_bytes_atomic(f"{settings.landing_uri()}/{config.landing_path('2024-05-01')}", day.encode())
    ingestion.ingest_day(config, "2024-05-01")
    assert ingestion.validate_day(config, "2024-05-01")["rows"] == 3


def test_without_a_sample_the_placeholder_contract_is_valid(project: Path) -> None:
    from mlcycle.core.config import load_pipeline

    assert scaffold.main(["churn", "--task", "classification"]) == 0
    config = load_pipeline("churn")
    assert config.task == "classification"
    assert config.evaluation.thresholds
    assert len(_dag_ids(config)) == 9


@pytest.mark.parametrize("name", ["Sales", "1sales", "s", "daily-sales", "sales.v2", "x" * 41])
def test_a_bad_name_is_refused_and_nothing_is_written(project: Path, capsys, name: str) -> None:
    assert scaffold.main([name, "--from-csv", str(project / "sample.csv")]) == 2
    assert "is not a valid pipeline name" in capsys.readouterr().err
    assert not (project / "pipelines").exists()
    assert not list((project / "gx" / "expectations").glob("*"))


def test_an_existing_name_is_refused_and_left_alone(project: Path, capsys) -> None:
    assert scaffold.main(["sales", "--from-csv", str(project / "sample.csv")]) == 0
    before = (project / "pipelines" / "sales.yaml").read_text()
    assert scaffold.main(["sales"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert (project / "pipelines" / "sales.yaml").read_text() == before


def test_the_shipped_pipelines_are_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLCYCLE_PIPELINES_DIR", raising=False)
    with pytest.raises(scaffold.ScaffoldError, match="exists already"):
        scaffold.scaffold(scaffold.Request("flights"))


def test_a_sample_without_a_date_column_is_refused_with_the_fix(project: Path) -> None:
    (project / "nodate.csv").write_text("store,price\nnorth,1.0\n")
    with pytest.raises(scaffold.ScaffoldError, match="--date-column"):
        scaffold.scaffold(scaffold.Request("nodate", str(project / "nodate.csv")))
    assert not (project / "pipelines" / "nodate.yaml").exists()


def test_help_explains_the_options_with_examples(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        scaffold.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--from-csv" in text
    assert "make new-pipeline NAME=" in text
    assert "docs/adding-a-pipeline.md" in text


def _documented_fields() -> dict[str, str]:
    """``field path -> default`` as the config reference of docs/adding-a-pipeline.md states them."""
    text = (settings.REPO_ROOT / "docs" / "adding-a-pipeline.md").read_text()
    reference = text.split("\n## Config reference", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([a-z_.]+)` \| ([^|]+?) \|", reference, re.MULTILINE))


def _schema_fields() -> dict[str, str]:
    """``field path -> default`` from the pydantic models, written as the guide writes them."""
    from pydantic import BaseModel

    from mlcycle.core import config

    sections = {"": config.PipelineConfig, "landing.": config.LandingConfig, "schedule.": config.ScheduleConfig,
                "validation.": config.ValidationConfig, "training.": config.TrainingConfig,
                "evaluation.": config.EvaluationConfig, "monitoring.": config.MonitoringConfig,
                "governance.": config.GovernanceConfig, "promotion.": config.PromotionConfig}
    fields = {}
    for prefix, model in sections.items():
        for name, field in model.model_fields.items():
            value = None if field.is_required() else field.get_default(call_default_factory=True)
            fields[prefix + name] = ("required" if field.is_required() else "see below"
                                     if isinstance(value, BaseModel) else
                                     f"`{value if isinstance(value, str) else json.dumps(value)}`")
    return fields


def test_the_guides_config_reference_lists_every_field_with_its_default() -> None:
    assert _documented_fields() == _schema_fields(), "update the Config reference of docs/adding-a-pipeline.md"


DAYS = ["2013-05-14", "2013-05-15", "2013-05-16", "2013-05-21"]  # flights of ordinary days (few cancelled)


@pytest.fixture
def flights_days(project: Path) -> Path:
    """Four real days of the flights export, one CSV a day, as a producer would deliver them."""
    from mlcycle.sources import nycflights

    folder = project / "export"
    folder.mkdir()
    for ds in DAYS:
        nycflights.day(ds).to_csv(folder / f"flights_{ds}.csv", index=False)
    return folder


def test_several_days_give_ranges_every_one_of_them_passes(project: Path, flights_days: Path, capsys) -> None:
    """Ranges from one day failed most later days; profiled from all, no day of the sample fails its suite."""
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import landing
    from mlcycle.stages import ingestion

    assert scaffold.main(["cargo", "--from-csv", str(flights_days / "flights_*.csv"), "--label", "is_late",
                          "--key", "carrier,flight,origin,sched_dep_time"]) == 0
    out = capsys.readouterr().out
    assert "measured on 4 sample days" in out
    assert "paused: unpause them in the Airflow UI" in out
    config = load_pipeline("cargo")
    assert config.schedule.paused_upon_creation
    assert config.key == ["carrier", "flight", "origin", "sched_dep_time"]
    assert config.monitoring.numeric_threshold > 0.1  # not the default that raised drift on the first new day
    for ds in DAYS:
        landing.land_frame(pd.read_csv(flights_days / f"flights_{ds}.csv"),
                           settings.landing_uri(), config.landing_path(ds))
        ingestion.ingest_day(config, ds)
        result = ingestion.validate_day(config, ds)
        assert result["rows"] > 0
        assert result["quarantined_rows"] / (result["rows"] + result["quarantined_rows"]) <= 0.05, result


def test_a_one_column_key_gets_the_single_column_uniqueness_check(project: Path) -> None:
    from mlcycle.core import quality

    written = scaffold.scaffold(scaffold.Request("sales", str(project / "sample.csv"), key=["basket_id"]))
    suite = json.loads(Path(written["suite"]).read_text())
    uniques = [e for e in suite["expectations"] if "unique" in e["type"]]
    assert [(e["type"], e["kwargs"]) for e in uniques] == [("expect_column_values_to_be_unique",
                                                            {"column": "basket_id"})]
    assert quality.load_suite("sales").name == "sales"


def test_the_scaffolds_dags_start_paused_unless_told_to_start(project: Path) -> None:
    from mlcycle.core.config import load_pipeline
    from mlcycle.orchestration import factory

    scaffold.scaffold(scaffold.Request("sales", str(project / "sample.csv")))
    assert {dag.is_paused_upon_creation for dag in factory.build(factory.ingest_dag).values()} == {True}
    assert scaffold.main(["shop", "--from-csv", str(project / "sample.csv"), "--start",
                          "--start-date", "2024-05-02", "--end-date", "2024-06-30"]) == 0
    config = load_pipeline("shop")
    assert not config.schedule.paused_upon_creation
    assert (str(config.schedule.start_date), str(config.schedule.end_date)) == ("2024-05-02", "2024-06-30")


def test_an_unknown_key_or_an_empty_glob_is_refused(project: Path) -> None:
    with pytest.raises(scaffold.ScaffoldError, match=r"key columns \['sku'\] are not in the sample"):
        scaffold.scaffold(scaffold.Request("sales", str(project / "sample.csv"), key=["sku"]))
    with pytest.raises(scaffold.ScaffoldError, match="no CSV file in"):
        scaffold.scaffold(scaffold.Request("sales", str(project / "nothing_*.csv")))
