"""DAG integrity and policy: every DAG file imports cleanly and follows the house rules.

Parsing runs in a fresh subprocess that counts SQL statements, refuses connection look-ups and
lists the heavy modules imported, so the checks see exactly what the DAG processor would do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ["pandas", "sklearn", "mlflow", "evidently", "great_expectations", "dvc"]

PARSE_SCRIPT = textwrap.dedent("""
    import json, sys
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements = []
    event.listen(Engine, "before_cursor_execute", lambda *a, **k: statements.append(a[2]))

    lookups = []
    def refuse(*args, **kwargs):
        lookups.append(repr(args))
        raise RuntimeError("connection look-up at parse time")

    from airflow.sdk import BaseHook, Connection, Variable
    BaseHook.get_connection = classmethod(refuse)
    Connection.get = classmethod(refuse)
    Variable.get = staticmethod(refuse)

    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    from airflow.serialization.serialized_objects import DagSerialization

    dags, serialization_errors = {}, {}
    for dag_id, dag in bag.dags.items():
        try:
            DagSerialization.to_dict(dag)
        except Exception as exc:
            serialization_errors[dag_id] = str(exc)
        dags[dag_id] = {
            "tags": sorted(dag.tags), "doc_md": dag.doc_md, "fileloc": dag.fileloc,
            "tasks": {t.task_id: {"owner": t.owner, "retries": t.retries,
                                  "asks_a_person": hasattr(t, "response_timeout")} for t in dag.tasks},
        }
    print(json.dumps({
        "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
        "dags": dags, "statements": statements, "lookups": lookups, "serialization_errors": serialization_errors,
        "heavy": sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2].split(",")),
    }))
""")


@pytest.fixture(scope="module")
def parsed() -> dict:
    result = subprocess.run([sys.executable, "-c", PARSE_SCRIPT, str(REPO / "dags"), ",".join(HEAVY)],
                            capture_output=True, text=True, env=os.environ.copy(), check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_dag_file_imports_without_errors(parsed):
    assert parsed["import_errors"] == {}


def test_every_dag_serializes(parsed):
    """What the DAG processor stores for the scheduler and the UI; a failure here is an import error there."""
    assert parsed["serialization_errors"] == {}


def test_every_pipeline_config_gets_every_stage(parsed):
    from mlcycle.core.config import load_pipelines

    expected = {f"{stage}_{config.name}" for config in load_pipelines() for stage in config.stages}
    assert len(expected) >= 6
    assert expected <= set(parsed["dags"])


def test_parsing_makes_no_db_query(parsed):
    assert parsed["statements"] == []


def test_parsing_looks_up_no_connection_or_variable(parsed):
    assert parsed["lookups"] == []


def test_parsing_imports_no_heavy_library(parsed):
    assert parsed["heavy"] == [], "import these inside execute() or the task body"


@pytest.mark.parametrize("rule", ["tags", "doc_md", "owner", "retries"])
def test_every_dag_follows_policy(parsed, rule):
    offenders = []
    for dag_id, dag in parsed["dags"].items():
        if rule in ("tags", "doc_md") and not dag[rule]:
            offenders.append(dag_id)
        for task_id, task in dag["tasks"].items():
            if rule == "owner" and task["owner"] in ("", "airflow"):
                offenders.append(f"{dag_id}.{task_id}")
            # a human-in-the-loop task is not retried: a retry would ask the person again
            if rule == "retries" and task["retries"] < 1 and not task["asks_a_person"]:
                offenders.append(f"{dag_id}.{task_id}")
    assert offenders == [], f"violate the '{rule}' rule"


def _asset_names(condition) -> set[str]:
    """Names of the Assets in a schedule condition (an Asset, or AssetAll/AssetAny of them)."""
    if condition is None:
        return set()
    if hasattr(condition, "objects"):
        return set().union(*(_asset_names(c) for c in condition.objects))
    name = getattr(condition, "name", None)  # a time table's null condition has none
    return {name} if name else set()


def test_every_asset_a_dag_waits_for_is_produced_by_a_task():
    """The chain raw -> validated -> ... holds for every config, mapped tasks included.

    A mapped task is re-created at run time from its ``partial()`` arguments, so an outlet set only in
    ``__init__`` would vanish there: the factory must declare it where the scheduler sees it.
    """
    from mlcycle.core.config import load_pipelines
    from mlcycle.orchestration import factory

    for config in load_pipelines():
        dags = [getattr(factory, f"{stage}_dag")(config) for stage in config.stages]
        produced = {asset.name for dag in dags for task in dag.tasks for asset in task.outlets}
        for dag in dags:
            waits_for = _asset_names(getattr(dag.timetable, "asset_condition", None))
            assert waits_for <= produced, f"{dag.dag_id} waits for {waits_for - produced}, which no task produces"
        assert f"validated.{config.name}" in produced
