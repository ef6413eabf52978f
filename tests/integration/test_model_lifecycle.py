"""train -> evaluate -> register -> rollback on real validated days, a real MLflow server and ``dag.test()``.

One module-scoped lake and pipeline, ``flights_lc``: a copy of ``include/pipelines/flights.yaml`` with a
five-day window ending 2013-01-13 (holdout: the 12th and 13th) and a one-point search, so the DAGs
built by the factory load it by name. All models are trained on the same snapshot, so the holdout the
gate scores on is the same for every version. The lifecycle fixtures build on each other and record
what the registry looked like at each step; the tests assert on those records:

    v1 logistic regression -> champion (no champion yet: absolute thresholds only)
    v2 a one-split booster  -> rejected, champion stays v1
    v3 random forest        -> champion, v1 becomes previous
    rollback                -> champion v1 again
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import platform
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from conftest import local_state, pipelines_folder

pytestmark = pytest.mark.integration

PIPELINE = "flights_lc"
DAYS = ["2013-01-09", "2013-01-10", "2013-01-11", "2013-01-12", "2013-01-13"]
END = DAYS[-1]
REPO = Path(__file__).resolve().parents[2]
TRAINING = {
    "numeric_features": ["sched_dep_time", "sched_arr_time", "hour", "distance", "temp", "dewp", "humid", "wind_dir",
                         "wind_speed", "wind_gust", "precip", "pressure", "visib"],
    "categorical_features": ["carrier", "origin", "dest"],
    "window_days": 5,
    "holdout_days": 2,
    "estimator": "random_forest_classifier",
    "allowed_estimators": ["logistic_regression", "random_forest_classifier", "hist_gradient_boosting_classifier"],
    "params": {},
    "search": {"max_depth": [3]},  # one point; logistic regression ignores it
    "primary_metric": "roc_auc",
}
# compared with the champion on roc_auc (the primary metric, the default of compare_on); accuracy is absolute only
EVALUATION = {"thresholds": {"roc_auc": 0.60, "accuracy": 0.70}, "max_regression": 0.01}
# A booster with one split of depth 1: barely better than a coin on this holdout.
WEAK = {"training": {**TRAINING, "estimator": "hist_gradient_boosting_classifier",
                     "params": {"max_iter": 1, "learning_rate": 0.1}, "search": {"max_depth": [1]}}}


def _config_text(**changes: Any) -> str:
    """The flights data contract with this module's training and evaluation sections."""
    raw = yaml.safe_load((REPO / "include" / "pipelines" / "flights.yaml").read_text())
    raw.update(name=PIPELINE, training=TRAINING, evaluation=EVALUATION)
    raw.update(changes)
    return yaml.safe_dump(raw, sort_keys=False)


@pytest.fixture(scope="module")
def testbed(request, tmp_path_factory, mlflow_process, airflow_db) -> Iterator[SimpleNamespace]:
    """Five real days landed, ingested and validated for ``flights_lc``, in a module-wide state folder.

    The MLflow server starts first and is waited for last, so its start-up overlaps with the data's.
    """
    from mlcycle import settings
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import nycflights
    from mlcycle.stages import ingestion

    root = tmp_path_factory.mktemp("lifecycle")
    pipelines = pipelines_folder(root, PIPELINE, _config_text())
    with pytest.MonkeyPatch.context() as patch:
        local_state(patch, root / "state", pipelines)
        config = load_pipeline(PIPELINE)
        for ds in DAYS:
            nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
            ingestion.ingest_day(config, ds)
            ingestion.validate_day(config, ds)
        mlflow = request.getfixturevalue("mlflow_server")
        yield SimpleNamespace(config=config, state=root / "state", pipelines=pipelines, mlflow=mlflow)


@contextlib.contextmanager
def _config_variant(testbed: SimpleNamespace, **changes: Any) -> Iterator[Any]:
    """Rewrite ``flights_lc.yaml`` for the duration of the block (tasks load the config by name)."""
    from mlcycle.core.config import load_pipeline

    path = testbed.pipelines / f"{PIPELINE}.yaml"
    original = path.read_text()
    path.write_text(_config_text(**changes))
    try:
        yield load_pipeline(PIPELINE)
    finally:
        path.write_text(original)


def _dag(stage: str):
    """A fresh DAG of one stage for ``flights_lc``.

    Never run one DAG object twice: ``dag.test()`` renders the templated fields onto its task objects
    in place, so the second run would reuse the first run's Params.
    """
    from mlcycle.core.config import load_pipeline
    from mlcycle.orchestration import factory

    factories = {"train": factory.train_dag, "evaluate": factory.evaluate_dag,
                 "register": factory.register_dag, "rollback": factory.rollback_dag}
    return factories[stage](load_pipeline(PIPELINE))


def _task_states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _only_ti(run):
    (ti,) = run.get_task_instances()
    return ti


def _xcom(run, key: str = "return_value") -> Any:
    ti = _only_ti(run)
    return ti.xcom_pull(task_ids=ti.task_id, key=key)


def _links(run, dag) -> dict[str, str]:
    """The extra links the DAG's task declares, with the URLs its run persisted in XCom."""
    (task,) = dag.tasks
    return {type(link).__name__: _xcom(run, link.xcom_key) for link in task.operator_extra_links}


def _run(dag, **conf: Any):
    run = dag.test(run_conf=conf)
    assert run.state == "success", f"{dag.dag_id}: {_task_states(run)}"
    return run


def _registry_state() -> dict[str, Any]:
    from mlcycle.core import registry

    return {alias: registry.alias_version(PIPELINE, alias)
            for alias in (registry.CHAMPION, registry.CHALLENGER, registry.PREVIOUS)}


def _lifecycle(**train_conf: Any) -> SimpleNamespace:
    """train -> evaluate -> register through the DAGs; the registry is read before and after."""
    from mlcycle import settings
    from mlcycle.core import registry

    before = _registry_state()
    train_dag, evaluate_dag, register_dag = _dag("train"), _dag("evaluate"), _dag("register")
    train = _run(train_dag, window_end=END, **train_conf)
    trained = _xcom(train)
    version = trained["version"]
    dvc_pointer = (settings.dvc_repo_dir() / "training" / PIPELINE / f"md5={trained['snapshot_md5']}"
                   / "data.parquet.dvc").read_text()
    evaluate = _run(evaluate_dag, version=version)
    register = _run(register_dag, version=version)
    return SimpleNamespace(
        version=version, trained=trained, evaluated=_xcom(evaluate), registered=_xcom(register),
        train_run=train, evaluate_run=evaluate, register_run=register, dvc_pointer=dvc_pointer,
        links={dag.dag_id: _links(run, dag) for run, dag in
               ((train, train_dag), (evaluate, evaluate_dag), (register, register_dag))},
        before=before, after=_registry_state(), info=registry.version_info(PIPELINE, version),
        history=registry.history(PIPELINE))


@pytest.fixture(scope="module")
def first(testbed) -> SimpleNamespace:
    """v1: the first model of the pipeline, a logistic regression."""
    return _lifecycle(estimator="logistic_regression")


@pytest.fixture(scope="module")
def worse(testbed, first) -> SimpleNamespace:
    """A weak challenger, trained and gated while the config asks for a one-split booster."""
    with _config_variant(testbed, **WEAK):
        return _lifecycle()


@pytest.fixture(scope="module")
def better(testbed, first, worse) -> SimpleNamespace:
    """A random forest: better than v1 on the same holdout (after the rejection, so it is v3)."""
    return _lifecycle()


@pytest.fixture(scope="module")
def rolled_back(better) -> SimpleNamespace:
    from mlcycle.core import registry

    before = _registry_state()
    run = _run(_dag("rollback"), reason="v3 misbehaves in production")
    return SimpleNamespace(run=run, record=_xcom(run), before=before, after=_registry_state(),
                           history=registry.history(PIPELINE))


def _metric(run_id: str, key: str) -> float:
    from mlcycle.core import registry

    return registry.client().get_run(run_id).data.metrics[key]


def _artifacts(run_id: str, folder: str) -> set[str]:
    from mlcycle.core import registry

    return {a.path for a in registry.client().list_artifacts(run_id, folder)}


def test_first_model_is_promoted_on_absolute_thresholds_alone(first, testbed):
    from mlcycle.core import lake, registry, storage

    assert first.before["champion"] is None
    assert first.after["champion"] == first.version
    assert first.after["challenger"] is None, "a promoted version is no longer the challenger"
    (gate,) = first.evaluated
    assert gate["passed"]
    assert gate["champion"] is None
    assert {t["id"] for t in gate["tests"]} == {"roc_auc.absolute", "accuracy.absolute"}
    assert [r["action"] for r in first.registered] == ["promote"]

    tags = first.info["tags"]
    assert tags["gate"] == "passed"
    assert tags["gate.test.roc_auc.absolute"].startswith("SUCCESS")
    assert tags["gate.test.accuracy.absolute"].startswith("SUCCESS")
    assert not [k for k in tags if k.endswith(".vs_champion") or k.startswith("gate.interval.")]
    assert tags["gate.verdict"] == "promote"
    assert tags["estimator"] == "logistic_regression"

    # lineage: the snapshot's DVC md5, its pointer, the code and the Airflow run
    pointer = yaml.safe_load(first.dvc_pointer)["outs"][0]
    assert tags["data.md5"] == pointer["md5"] == first.trained["snapshot_md5"]
    assert tags["data.dvc_pointer"] == f"training/{PIPELINE}/md5={tags['data.md5']}/data.parquet.dvc"
    snapshot = Path(storage.local_path(tags["data.snapshot_uri"])) / lake.DATA_FILE
    assert hashlib.md5(snapshot.read_bytes()).hexdigest() == tags["data.md5"]
    assert tags["data.snapshot_uri"].endswith(f"md5={tags['data.md5']}")
    assert (testbed.state / "dvc-remote" / "files" / "md5" / tags["data.md5"][:2] / tags["data.md5"][2:]).exists()
    assert tags["data.window"] == f"{DAYS[0]}..{END}"
    assert tags["gx.days_validated"] == str(len(DAYS))
    assert tags["gx.all_published"] == "true"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()
    assert tags["code.commit"] in (head, f"{head}+dirty")
    assert tags["code.dirty"] == ("true" if tags["code.commit"].endswith("+dirty") else "false")
    assert tags["env.lock_md5"] == hashlib.md5((REPO / "requirements.txt").read_bytes()).hexdigest()
    assert tags["env.python"] == platform.python_version()
    assert tags["airflow.dag_id"] == f"train_{PIPELINE}"
    assert tags["airflow.run_id"] == first.train_run.run_id
    assert tags["airflow.task_id"] == "train"

    run_id = first.info["run_id"]
    assert run_id == first.trained["run_id"]
    assert {"evaluation/gate_report.html", "evaluation/gate_report.json"} <= _artifacts(run_id, "evaluation")
    assert "data/training_snapshot.parquet.dvc" in _artifacts(run_id, "data")
    logged_pointer = registry.client().download_artifacts(run_id, "data/training_snapshot.parquet.dvc",
                                                          str(testbed.state / "downloads"))
    assert yaml.safe_load(Path(logged_pointer).read_text())["outs"][0]["md5"] == tags["data.md5"]

    # extra links persisted in XCom by the operators
    experiment = first.trained["experiment_id"]
    run_url = f"{testbed.mlflow}/#/experiments/{experiment}/runs/{run_id}"
    version_url = f"{testbed.mlflow}/#/models/{PIPELINE}/versions/{first.version}"
    report_url = f"/plugin/mlcycle-reports/mlcycle/reports/{PIPELINE}/gate/v{first.version}"  # in Airflow (no base_url)
    assert first.links[f"train_{PIPELINE}"] == {"MlflowRunLink": run_url, "ModelVersionLink": version_url}
    assert first.links[f"evaluate_{PIPELINE}"] == {"MlflowRunLink": run_url, "ModelVersionLink": version_url,
                                                   "GateReportLink": report_url}
    assert first.links[f"register_{PIPELINE}"] == {"ModelVersionLink": version_url, "GateReportLink": report_url}

    (record,) = first.history
    assert record["action"] == "promote"
    assert (record["from_version"], record["to_version"]) == ("", str(first.version))
    assert record["airflow_run"] == first.register_run.run_id


def test_worse_challenger_is_rejected_and_champion_stays(worse, first):
    assert worse.before["champion"] == worse.after["champion"] == first.version
    assert worse.version > first.version
    (gate,) = worse.evaluated
    assert not gate["passed"]
    assert gate["champion"] == first.version
    assert any(r.startswith("roc_auc") for r in gate["reasons"]), gate["reasons"]
    # same holdout: the weak model is worse than the champion by more than the tolerance
    assert (_metric(worse.info["run_id"], "holdout_roc_auc")
            < _metric(first.info["run_id"], "holdout_roc_auc") - EVALUATION["max_regression"])

    tags = worse.info["tags"]
    assert tags["estimator"] == "hist_gradient_boosting_classifier"
    assert tags["gate"] == "failed"
    assert tags["rejected"] == "true"
    assert "roc_auc" in tags["gate.reasons"]
    assert tags["gate.test.roc_auc.vs_champion"].startswith("FAIL")
    assert tags["gate.verdict"] == "reject"
    low, high = (float(x) for x in tags["gate.interval.roc_auc"].removesuffix(" @ 0.95").strip("[]").split(","))
    assert low <= high < -EVALUATION["max_regression"], "the whole interval is below -tolerance"
    assert "champion" not in worse.info["aliases"]
    assert worse.after["challenger"] is None, "a rejected version is no longer the challenger"

    (record,) = worse.registered
    assert record["action"] == "reject"
    assert record["champion"] == first.version
    last = worse.history[-1]
    assert last["action"] == "reject"
    assert (last["from_version"], last["to_version"]) == (str(first.version), str(worse.version))
    assert "roc_auc" in last["reason"]


def test_better_challenger_is_promoted_and_old_champion_becomes_previous(better, first):
    from mlcycle.core import registry

    assert better.before["champion"] == first.version
    (gate,) = better.evaluated
    assert gate["passed"]
    assert gate["champion"] == first.version
    assert {t["id"] for t in gate["tests"]} == {"roc_auc.absolute", "accuracy.absolute", "roc_auc.vs_champion"}
    assert gate["verdict"] == "promote"
    assert gate["intervals"]["roc_auc"].endswith("@ 0.95")
    assert _metric(better.info["run_id"], "holdout_roc_auc") > _metric(first.info["run_id"], "holdout_roc_auc")

    assert better.after["champion"] == better.version
    assert better.after["previous"] == first.version
    tags = better.info["tags"]
    assert tags["gate"] == "passed"
    assert tags["gate.test.roc_auc.vs_champion"].startswith("SUCCESS")
    assert tags["gate.interval.roc_auc"] == gate["intervals"]["roc_auc"]
    assert "promoted_at" in tags
    assert "rejected" not in tags
    assert registry.version_info(PIPELINE, first.version)["tags"]["replaced_by"] == str(better.version)
    last = better.history[-1]
    assert last["action"] == "promote"
    assert (last["from_version"], last["to_version"]) == (str(first.version), str(better.version))


def test_every_champion_has_an_onnx_twin_that_agrees_on_its_holdout(better, first, worse, testbed):
    import numpy as np

    from mlcycle.core import onnx_export, registry, storage, training

    assert "onnx" not in worse.info["tags"]  # rejected: never a champion
    for champion in (first, better):
        tags = champion.info["tags"]
        assert tags["onnx"] == "exported", tags.get("onnx.reason")
        assert float(tags["onnx.max_abs_diff"]) <= onnx_export.TOLERANCE
        assert tags["onnx.tolerance"].startswith("1e-05: double precision")
        path = registry.client().download_artifacts(champion.info["run_id"], tags["onnx.artifact"],
                                                    str(testbed.state / "downloads"))
        snapshot = storage.read_partition(tags["data.snapshot_uri"])
        holdout = training.prepare(snapshot[snapshot[training.SPLIT_COLUMN] == "holdout"], testbed.config)
        predicted, probability = onnx_export.predict(onnx_export.session(Path(path).read_bytes()), holdout,
                                                     testbed.config.columns)
        model = registry.load_model(PIPELINE, champion.version)
        assert (predicted == model.predict(holdout)).all()
        assert np.max(np.abs(probability - model.predict_proba(holdout)[:, 1])) <= onnx_export.TOLERANCE


def test_rollback_restores_the_previous_champion(rolled_back, better, first):
    assert rolled_back.before["champion"] == better.version
    assert rolled_back.before["previous"] == first.version
    assert rolled_back.after["champion"] == first.version
    assert rolled_back.record["action"] == "rollback"
    last = rolled_back.history[-1]
    assert last["action"] == "rollback"
    assert (last["from_version"], last["to_version"]) == (str(better.version), str(first.version))
    assert last["reason"] == "v3 misbehaves in production"
    assert last["airflow_run"] == rolled_back.run.run_id
    assert len(rolled_back.history) == len(better.history) + 1


def test_concurrent_promotions_leave_one_champion_and_a_chained_history(testbed, first):
    """Several gate-passed versions promoted at once from threads: the lock serialises the moves."""
    from mlcycle.core import registry
    from mlcycle.stages import modelling

    name = f"{PIPELINE}_race"
    config = testbed.config.model_copy(update={"name": name})
    source = registry.version_info(PIPELINE, first.version)
    mlflow_client = registry.client()
    registry.ensure_model(name, "concurrent promotions")
    experiment = mlflow_client.create_experiment(name)
    versions = []
    for _ in range(4):  # the champion's model, registered again with its lineage, each with its own run
        run = mlflow_client.create_run(experiment)
        mlflow_client.set_terminated(run.info.run_id)
        tags = {k: v for k, v in source["tags"].items() if k.startswith(("data.", "code."))}
        mv = mlflow_client.create_model_version(name, source["source"], run.info.run_id,
                                                tags={**tags, "gate": "pending"},
                                                model_id=source["source"].removeprefix("models:/"))
        versions.append(int(mv.version))
    for version in versions:
        assert modelling.evaluate_model(config, version)["passed"]
    assert registry.alias_version(name, registry.CHAMPION) is None

    barrier = threading.Barrier(len(versions))

    def promote(version: int) -> dict[str, Any]:
        barrier.wait()
        return registry.promote(name, version, f"race v{version}")

    with ThreadPoolExecutor(len(versions)) as pool:
        records = list(pool.map(promote, versions))

    assert sorted(int(r["to_version"]) for r in records) == versions
    assert all(r["action"] == "promote" for r in records)
    champion = registry.alias_version(name, registry.CHAMPION)
    holders = [v for v in versions if "champion" in registry.version_info(name, v)["aliases"]]
    assert holders == [champion]
    history = registry.history(name)
    assert len(history) == len(versions)
    assert history[0]["from_version"] == ""
    for earlier, later in itertools.pairwise(history):
        assert later["from_version"] == earlier["to_version"], history
    assert history[-1]["to_version"] == str(champion)
    assert registry.alias_version(name, registry.PREVIOUS) == int(history[-1]["from_version"])


def test_a_config_without_thresholds_is_refused(testbed, first, capfd):
    from mlcycle.core import registry
    from mlcycle.core.gating import NoThresholdsError
    from mlcycle.stages import modelling

    champion = registry.alias_version(PIPELINE, registry.CHAMPION)
    with _config_variant(testbed, evaluation={"thresholds": {}}) as unguarded:
        version = _xcom(_run(_dag("train"), window_end=END))["version"]
        run = _dag("evaluate").test(run_conf={"version": version})
        assert run.state == "failed"
        ti = _only_ti(run)
        assert ti.state == "failed"
        assert ti.try_number == 1, "a config error must not be retried"
        # the task log (stdout of the in-process task runner) names the error and the fix
        assert ("AirflowFailException: NoThresholdsError: flights_lc: evaluation.thresholds is empty, so no model "
                "can be blessed. Add at least one") in capfd.readouterr().out
        with pytest.raises(NoThresholdsError, match="no model can be blessed"):
            modelling.evaluate_model(unguarded, version)

    info = registry.version_info(PIPELINE, version)
    assert info["tags"]["gate"] == "pending"
    assert not [k for k in info["tags"] if k.startswith("gate.")]
    assert not _artifacts(info["run_id"], "evaluation")
    assert registry.alias_version(PIPELINE, registry.CHAMPION) == champion
    assert registry.alias_version(PIPELINE, registry.CHALLENGER) == version


def test_training_twice_on_the_same_snapshot_gives_identical_metrics(testbed):
    from mlcycle.core import registry
    from mlcycle.stages import modelling

    runs = [modelling.train_model(testbed.config, END) for _ in range(2)]
    assert runs[0]["version"] != runs[1]["version"]
    assert runs[0]["snapshot_md5"] == runs[1]["snapshot_md5"]
    assert runs[0]["snapshot_uri"] == runs[1]["snapshot_uri"]
    assert runs[0]["holdout_metrics"] == runs[1]["holdout_metrics"]
    assert (runs[0]["train_rows"], runs[0]["holdout_rows"]) == (runs[1]["train_rows"], runs[1]["holdout_rows"])
    logged = [registry.client().get_run(r["run_id"]).data.metrics for r in runs]
    assert logged[0] == logged[1]
    assert logged[0]["holdout_roc_auc"] == runs[0]["holdout_metrics"]["roc_auc"]


@pytest.fixture(scope="module")
def clean_clone(tmp_path_factory) -> Path:
    """A throwaway clone of this checkout's HEAD: clean, whatever the working tree holds."""
    clone = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
    return clone


@pytest.fixture(scope="module")
def clean_champion(testbed, clean_clone) -> int:
    """A champion whose lineage names the clean clone's commit (``code.dirty`` false), gated and promoted.

    It is trained in this process with the git state read from the clone (``settings.REPO_ROOT``): on a
    clean checkout (CI) that is this tree's code; with uncommitted changes to training, reproducing it
    from HEAD rightly fails."""
    from mlcycle import settings
    from mlcycle.stages import modelling

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "REPO_ROOT", clean_clone)
        version = modelling.train_model(testbed.config, END)["version"]
    assert modelling.evaluate_model(testbed.config, version)["passed"]
    assert modelling.register_model(testbed.config, version)["champion"] == version
    return version


def test_the_champion_reproduces_identically_from_a_clean_clone(clean_champion, clean_clone, capsys):
    from mlcycle.core import registry
    from mlcycle.tools import reproduce

    tags = registry.version_info(PIPELINE, clean_champion)["tags"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clean_clone, capture_output=True, text=True).stdout
    assert (tags["code.commit"], tags["code.dirty"]) == (head.strip(), "false")

    report = reproduce.reproduce(PIPELINE, clean_champion, repo=clean_clone)

    assert report.identical, report.differences
    progress = capsys.readouterr().out
    assert f"restoring md5 {tags['data.md5']} from the DVC remote" in progress
    assert f"code: commit {head.strip()} (clean at training)" in progress
    assert any(line.strip().startswith("holdout roc_auc") for line in report.lines)
    assert ", 0 differ" in "\n".join(report.lines)
    assert "max abs difference 0.0" in "\n".join(report.lines)
    leftover = subprocess.run(["git", "worktree", "list"], cwd=clean_clone, capture_output=True, text=True).stdout
    assert len(leftover.splitlines()) == 1  # the temporary worktree is gone


def test_a_version_whose_snapshot_left_the_remote_is_refused(clean_champion, tmp_path, monkeypatch, capsys):
    from mlcycle.core import registry
    from mlcycle.tools import reproduce

    md5 = registry.version_info(PIPELINE, clean_champion)["tags"]["data.md5"]
    empty = tmp_path / "emptied-remote"
    empty.mkdir()
    monkeypatch.setenv("MLCYCLE_DVC_REMOTE", str(empty))
    assert reproduce.main([PIPELINE, str(clean_champion)]) == 2
    error = capsys.readouterr().err
    assert f"the DVC remote {empty} has no object with md5 {md5}" in error
    assert "training snapshot of this version is lost" in error


def test_a_version_with_an_unknown_commit_is_refused(worse, capsys):
    from mlcycle.core import registry
    from mlcycle.tools import reproduce

    unknown = "0123456789abcdef" * 2 + "01234567"
    for key, value in (("code.commit", unknown), ("code.dirty", "false")):
        registry.client().set_model_version_tag(PIPELINE, str(worse.version), key, value)
    assert reproduce.main([PIPELINE, str(worse.version)]) == 2
    error = capsys.readouterr().err
    assert f"unknown commit {unknown}: this clone ({REPO}) does not have it" in error
