"""A suite that does not fit its config is caught before run time: at DAG parse time from its JSON,
and by GX itself in the integrity tests and the scaffold, with GX's real error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlcycle.core import quality, suite_check
from mlcycle.core.config import ConfigError, load_pipeline
from mlcycle.core.quality import QualityError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the GX project whose flights suite a test may break."""
    gx = tmp_path / "gx"
    shutil.copytree(REPO / "include" / "gx", gx)
    monkeypatch.setenv("MLCYCLE_GX_DIR", str(gx))
    return gx


def _edit(project: Path, change) -> Path:
    path = project / "expectations" / "flights.json"
    suite = json.loads(path.read_text())
    change(suite["expectations"])
    path.write_text(json.dumps(suite))
    return path


def test_every_configured_suite_fits_its_config_and_loads_with_gx(project):
    from mlcycle.core.config import load_pipelines

    for config in load_pipelines():
        assert suite_check.problems(config, suite_check.read_suite(config)) == []
        assert quality.load_suite(config.suite_name).name == config.suite_name


def test_a_one_column_compound_key_is_refused_with_the_fix_and_gx_says_why(project):
    def one_column(expectations):
        expectations.append({"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["flight"]}})

    path = _edit(project, one_column)
    config = load_pipeline("flights")
    with pytest.raises(ConfigError, match="needs at least two columns; for a one-column key use "
                                          "expect_column_values_to_be_unique with column: flight") as caught:
        suite_check.check(config)
    assert str(path) in str(caught.value)
    with pytest.raises(QualityError, match="does not parse") as caught:
        quality.load_suite("flights")
    assert "at least two columns" in str(caught.value)


def test_a_suite_column_the_config_lacks_is_refused(project):
    def unknown(expectations):
        expectations.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "gate"}})

    _edit(project, unknown)
    with pytest.raises(ConfigError, match=r"names columns \['gate'\] that are not under 'columns'"):
        suite_check.check(load_pipeline("flights"))


def test_a_missing_suite_is_named(project):
    (project / "expectations" / "flights.json").unlink()
    with pytest.raises(ConfigError, match="no expectation suite at .*flights.json"):
        suite_check.check(load_pipeline("flights"))
    with pytest.raises(QualityError, match="no expectation suite 'flights': .* does not exist"):
        quality.load_suite("flights")


def test_the_dag_files_refuse_a_suite_that_does_not_fit(project):
    from mlcycle.orchestration import factory

    _edit(project, lambda e: e.append({"type": "expect_compound_columns_to_be_unique",
                                       "kwargs": {"column_list": ["carrier"]}}))
    with pytest.raises(ConfigError, match="flights.json does not fit"):
        factory.build(factory.validate_dag)
