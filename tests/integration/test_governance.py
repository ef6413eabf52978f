"""Only the pipeline moves the champion: hand moves of an alias against a real MLflow server and ``dag.test()``.

Pipeline ``flights_gov``: the flights contract with a four-day January window (one day held out) and a
one-point search. One model is trained and promoted by the gate (v1); further versions re-register its
model with a verdict of their own (``_version``), so no test trains twice. A person with registry rights
moves ``champion`` or ``previous`` by hand, as the issue's attacker did with one REST call:

    revert (default)  score_<p> audits first: the move is recorded, notified and undone; v1 scores
    alert             score_<p> and monitor_<p> refuse the rejected champion, name it and rollback_<p>
    audit_<p>         the scheduled audit catches a hand move of previous
    race              promotions and audits at once: no legitimate move is taken for an incident
"""

from __future__ import annotations

import contextlib
import tempfile
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

PIPELINE = "flights_gov"
WINDOW = ["2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04"]
NEXT = "2013-01-05"  # validated after the window: the day score_<p> has to handle
REPO = Path(__file__).resolve().parents[2]


def _config_text(**governance: Any) -> str:
    raw = yaml.safe_load((REPO / "include" / "pipelines" / "flights.yaml").read_text())
    raw["name"] = PIPELINE
    raw["training"].update(window_days=4, holdout_days=1, estimator="logistic_regression", search={"C": [1.0]})
    raw["evaluation"] = {"thresholds": {"roc_auc": 0.55}, "max_regression": 0.02}
    raw["governance"] = governance
    return yaml.safe_dump(raw, sort_keys=False)


@pytest.fixture(scope="module")
def testbed(request, tmp_path_factory, mlflow_process, airflow_db) -> Iterator[SimpleNamespace]:
    """Five validated days and v1, promoted by the gate (plain domain calls)."""
    from mlcycle import settings
    from mlcycle.core.config import load_pipeline
    from mlcycle.sources import nycflights
    from mlcycle.stages import ingestion, modelling

    root = tmp_path_factory.mktemp("governance")
    pipelines = pipelines_folder(root, PIPELINE, _config_text())
    with pytest.MonkeyPatch.context() as patch:
        local_state(patch, root / "state", pipelines)
        config = load_pipeline(PIPELINE)
        for ds in [*WINDOW, NEXT]:
            nycflights.land_day(ds, settings.landing_uri(), config.landing_path(ds))
            ingestion.ingest_day(config, ds)
            ingestion.validate_day(config, ds)
        request.getfixturevalue("mlflow_server")
        trained = modelling.train_model(config, WINDOW[-1], cause={"type": "manual", "reason": "governance test"})
        assert modelling.evaluate_model(config, trained["version"])["passed"]
        modelling.register_model(config, trained["version"])
        yield SimpleNamespace(config=config, champion=trained["version"])


def _version(testbed: SimpleNamespace, passed: bool) -> int:
    """v1's model registered again, with v1's lineage and a gate verdict of its own (rejected if it failed)."""
    from mlcycle.core import gating, registry

    source = registry.version_info(PIPELINE, testbed.champion)
    tags = {k: v for k, v in source["tags"].items() if k.startswith(("data.", "code.", "estimator"))}
    mv = registry.client().create_model_version(PIPELINE, source["source"], source["run_id"],
                                                tags={**tags, "gate": "pending"},
                                                model_id=source["source"].removeprefix("models:/"))
    version = int(mv.version)
    reasons = [] if passed else ["roc_auc 0.41 < 0.55 (test verdict)"]
    verdict = gating.GateResult(passed=passed, tests=[], html_path="", json_path="", has_champion=True,
                                reasons=reasons, verdict="promote" if passed else "reject")
    registry.record_gate(PIPELINE, version, verdict, [])
    if not passed:
        registry.reject(PIPELINE, version, reasons)
    return version


def _by_hand(alias: str, version: int) -> None:
    """What a person (or the issue's one REST call) does: set the alias directly, outside the pipeline."""
    from mlflow import MlflowClient

    from mlcycle import settings

    MlflowClient(settings.mlflow_tracking_uri()).set_registered_model_alias(PIPELINE, alias, str(version))


@contextlib.contextmanager
def _governance(**settings: Any) -> Iterator[None]:
    """The pipeline with another ``governance`` section for the block (tasks load the config by name)."""
    with tempfile.TemporaryDirectory() as root, pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLCYCLE_PIPELINES_DIR", str(pipelines_folder(Path(root), PIPELINE, _config_text(**settings))))
        yield


def _run(stage: str, **conf: Any) -> SimpleNamespace:
    from mlcycle.core.config import load_pipeline
    from mlcycle.orchestration import factory

    run = getattr(factory, f"{stage}_dag")(load_pipeline(PIPELINE)).test(run_conf=conf)
    tis = {(ti.task_id, ti.map_index): ti for ti in run.get_task_instances()}
    return SimpleNamespace(run=run, tis=tis, states={key: ti.state for key, ti in tis.items()})


def _incidents() -> list[dict[str, str]]:
    from mlcycle.core import registry

    return [r for r in registry.history(PIPELINE) if r["action"] == "incident"]


def _notified() -> list[dict[str, Any]]:
    from mlcycle.core import notify

    return [n for n in notify.read(PIPELINE) if n["event"] == "incident"]


def _predicted_by(ds: str) -> set[int]:
    from mlcycle.core import lake, storage

    return set(storage.read_partition(lake.partition("predictions", PIPELINE, ds))["model_version"])


def test_a_champion_moved_by_hand_to_a_rejected_version_is_reverted_before_anything_is_scored(testbed):
    from mlcycle.core import registry

    rejected = _version(testbed, passed=False)
    incidents, notified = len(_incidents()), len(_notified())
    _by_hand("champion", rejected)

    scored = _run("score")  # as validated.<p> would start it: no date, the days not scored yet
    assert scored.run.state == "success", scored.states
    assert registry.alias_version(PIPELINE, "champion") == testbed.champion, "the hand move was undone"
    assert _predicted_by(NEXT) == {testbed.champion}, "the rejected version wrote no prediction"

    (incident,) = _incidents()[incidents:]
    assert (incident["from_version"], incident["to_version"]) == (str(testbed.champion), str(rejected))
    assert f"champion is v{rejected} (gate=failed) but the pipeline last set v{testbed.champion}" in incident["reason"]
    assert "Reverted" in incident["reason"]
    (notice,) = _notified()[notified:]
    assert notice["details"]["reason"] == incident["reason"]
    assert f"champion=v{rejected}" in notice["title"]
    assert _run("audit").tis[("audit", -1)].xcom_pull(task_ids="audit")["incident"] is None, "nothing left to undo"


def test_scoring_refuses_an_ungated_champion_when_the_policy_is_alert(testbed):
    from mlcycle.core import governance, lake, registry, storage
    from mlcycle.stages import scoring

    rejected = _version(testbed, passed=False)
    scored_before = storage.read_manifest(lake.partition("predictions", PIPELINE, NEXT))
    incidents, notified = len(_incidents()), len(_notified())
    with _governance(on_manual_alias="alert"):
        _by_hand("champion", rejected)
        for stage in ("score", "monitor"):
            refused = _run(stage, ds=NEXT)
            assert refused.run.state == "failed"
            partitions = refused.tis[("partitions", -1)]
            assert (partitions.state, partitions.try_number) == ("failed", 1), "refused at once, not retried"
            assert not [key for key, state in refused.states.items() if key[0] != "partitions" and state == "success"]
        with pytest.raises(governance.UngatedChampion) as message:
            scoring.score_day(testbed.config, NEXT)  # the stage refuses it too (an alias moved after the audit)

        assert registry.alias_version(PIPELINE, "champion") == rejected, "alert leaves the alias where it is"
        assert str(message.value).startswith(f"{PIPELINE} v{rejected} is the champion, but its gate verdict is "
                                             "'failed' (roc_auc 0.41 < 0.55 (test verdict))")
        assert f"rollback_{PIPELINE}" in str(message.value)
        assert storage.read_manifest(lake.partition("predictions", PIPELINE, NEXT)) == scored_before
        assert len(_incidents()) == incidents + 1, "one incident for one move, however many runs see it"
        assert len(_notified()) == notified + 1

        restored = _run("rollback", version=testbed.champion, reason="undo the hand move")  # the documented way
        assert restored.run.state == "success"
        assert registry.alias_version(PIPELINE, "champion") == testbed.champion
        assert _run("score", ds=NEXT).run.state == "success"
    assert _predicted_by(NEXT) == {testbed.champion}
    assert registry.history(PIPELINE)[-1]["action"] == "rollback"


def test_the_scheduled_audit_catches_a_hand_move_of_previous(testbed):
    from mlcycle.core import registry

    gated = _version(testbed, passed=True)
    assert registry.alias_version(PIPELINE, "previous") is None  # the last move was a rollback
    _by_hand("previous", gated)
    run = _run("audit")
    assert run.run.state == "success"
    result = run.tis[("audit", -1)].xcom_pull(task_ids="audit")
    assert result["servable"]
    assert result["incident"]["found"] == f"champion=v{testbed.champion}, previous=v{gated}"
    assert registry.alias_version(PIPELINE, "previous") is None, "reverted to what the pipeline set: no previous"
    assert _notified()[-1]["details"]["found"] == result["incident"]["found"]


def test_promotion_needs_approval_where_the_pipeline_requires_it(testbed):
    from mlcycle.core import registry
    from mlcycle.core.config import load_pipeline
    from mlcycle.stages import modelling

    candidate = _version(testbed, passed=True)
    with _governance(require_approval=True):
        refused = _run("score", ds=NEXT)
        assert refused.run.state == "failed", "the champion is not approved"
        config = load_pipeline(PIPELINE)
        with pytest.raises(registry.RegistryError, match="approval=approved"):
            modelling.register_model(config, candidate)
        assert registry.alias_version(PIPELINE, "champion") == testbed.champion
        registry.client().set_model_version_tag(PIPELINE, str(testbed.champion), "approval", "approved")
        assert _run("score", ds=NEXT).run.state == "success"
    registry.client().delete_model_version_tag(PIPELINE, str(testbed.champion), "approval")


def test_promotions_racing_with_audits_are_never_taken_for_incidents(testbed):
    """Register and audit at once, from threads: the intent is recorded before each move, under the lock."""
    from mlcycle.core import governance, registry

    versions = [_version(testbed, passed=True) for _ in range(3)]
    incidents = len(_incidents())
    done = threading.Event()
    found: list[dict[str, Any] | None] = []

    def audit_until_done() -> None:
        while not done.is_set():
            found.append(governance.audit(testbed.config))

    with ThreadPoolExecutor(4) as pool:
        audits = [pool.submit(audit_until_done) for _ in range(2)]
        try:
            for version in versions:
                registry.promote(PIPELINE, version, f"race v{version}")
        finally:
            done.set()
        for future in audits:
            future.result()
    assert found, "the audits ran"
    assert found == [None] * len(found)
    assert len(_incidents()) == incidents
    assert registry.alias_version(PIPELINE, "champion") == versions[-1]
    assert registry.alias_version(PIPELINE, "previous") == versions[-2]
    registry.rollback(PIPELINE, testbed.champion, "back to v1 for the next test")
