"""``make reproduce PIPELINE=flights VERSION=n``: turn a model version's lineage back into the model.

1. read the version's lineage tags and run artifacts (DVC pointer, pipeline config, chosen params);
2. restore the training snapshot from the DVC remote by its md5, into a new DVC repo (no cache);
3. refuse a commit that is unknown here, or that was recorded from a dirty tree; else check it out
   into a temporary ``git worktree``;
4. compare this environment with the recorded lock md5 and Python version (a difference warns;
   ``--strict-env`` refuses), listing the pins of the recorded commit's lock that differ;
5. retrain in that worktree with the recorded parameters (:mod:`mlcycle.tools.retrain`, in a child
   process that imports that commit's code);
6. compare the holdout metrics with the logged ones, and the holdout predictions with the registered
   model's: exit 0 when identical, else print the differences and exit 1. A refusal exits 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from mlcycle import settings
from mlcycle.errors import DataError

REQUIRED = ("data.md5", "data.dvc_pointer", "code.commit", "estimator")
RETRAIN = Path(__file__).with_name("retrain.py")


class ReproduceError(DataError):
    """The version cannot be reproduced here; the message says why and what to do."""


@dataclass
class Lineage:
    name: str
    version: int
    run_id: str
    tags: dict[str, str]
    pointer: str
    config: dict[str, Any]
    params: dict[str, Any]


@dataclass
class Report:
    differences: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences


def _say(step: int, text: str) -> None:
    print(f"[{step}/6] {text}", flush=True)


def _artifact(run_id: str, path: str, folder: Path) -> str | None:
    from mlflow.exceptions import MlflowException

    from mlcycle.core import tracking

    try:
        return Path(tracking.client().download_artifacts(run_id, path, str(folder))).read_text()
    except (MlflowException, OSError):
        return None


def read_lineage(pipeline: str, version: int, folder: Path) -> Lineage:
    """The version's tags and the run artifacts that retraining needs."""
    import yaml

    from mlcycle.core import registry, tracking
    from mlcycle.core.config import load_pipeline

    config = load_pipeline(pipeline)
    info = registry.version_info(config.model_name, version)
    tags = info["tags"]
    missing = [t for t in REQUIRED if not tags.get(t)]
    if missing:
        raise ReproduceError(f"{config.model_name} v{version} has no lineage tag(s) {missing}: it was not trained "
                             "by this pipeline's train task, so there is nothing to reproduce it from")
    pointer = _artifact(info["run_id"], "data/training_snapshot.parquet.dvc", folder)
    if pointer is None:
        raise ReproduceError(f"run {info['run_id']} of {config.model_name} v{version} has no artifact "
                             "data/training_snapshot.parquet.dvc: the training snapshot cannot be located")
    recorded = _artifact(info["run_id"], "config/pipeline.json", folder)
    params = _artifact(info["run_id"], "config/params.json", folder)
    if params is None:  # versions trained before params.json: the run's params, minus the run-level ones
        logged = tracking.client().get_run(info["run_id"]).data.params
        params = json.dumps({k: yaml.safe_load(v) for k, v in logged.items()
                             if k not in ("estimator", "window_days", "holdout_days")})
    return Lineage(pipeline, version, info["run_id"], tags, pointer,
                   json.loads(recorded) if recorded else config.model_dump(mode="json"), json.loads(params))


def check_commit(tags: dict[str, str], repo: Path) -> str:
    """The recorded commit, when it is a clean commit this clone has; else a refusal saying why."""
    commit = tags["code.commit"]
    if tags.get("code.dirty") == "true" or commit.endswith("+dirty"):
        raise ReproduceError(f"the version was trained from a dirty tree (code.commit={commit}): its code is "
                             "not in any commit, so it cannot be reproduced. Train from a clean checkout")
    if not re.fullmatch(r"[0-9a-f]{7,40}", commit):
        raise ReproduceError(f"the version records code.commit={commit!r}, not a git commit: versions trained "
                             "from an image record MLCYCLE_CODE_VERSION, which is 'unknown' unless set at build")
    found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=repo, capture_output=True)
    if found.returncode != 0:
        raise ReproduceError(f"unknown commit {commit}: this clone ({repo}) does not have it; fetch the branch "
                             "that holds it (git fetch --all), then run make reproduce again")
    return commit


def _pins(lock_text: str) -> dict[str, str]:
    return {m[1].lower(): m[2] for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", lock_text, re.M)}


def check_environment(tags: dict[str, str], lock_text: str | None, strict: bool) -> list[str]:
    """Warnings about this environment against the recorded one; with ``strict``, a refusal instead."""
    notes = []
    python = platform.python_version()
    if tags.get("env.python", python) != python:
        notes.append(f"Python is {python} here, {tags['env.python']} at training")
    if "env.lock_md5" not in tags:
        notes.append("the version records no env.lock_md5 (trained before it was recorded)")
    elif lock_text is None or hashlib.md5(lock_text.encode()).hexdigest() != tags["env.lock_md5"]:
        notes.append("the recorded commit's requirements.txt does not hash to env.lock_md5")
    if lock_text is not None:
        for name, pin in sorted(_pins(lock_text).items()):
            try:
                have = f"{metadata.version(name)} installed"
            except metadata.PackageNotFoundError:
                have = "not installed"
            if have != f"{pin} installed":
                notes.append(f"{name}: {have}, {pin} in the recorded lock")
    if notes and strict:
        raise ReproduceError("the environment differs from the recorded one (--strict-env): " + "; ".join(notes))
    return notes


def _worktree(repo: Path, commit: str, path: Path) -> None:
    subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True)  # left by a killed run
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), commit], cwd=repo, check=True,
                   capture_output=True)


def _retrain(lineage: Lineage, snapshot: Path, code: Path, work: Path) -> dict[str, Any]:
    job = work / "job.json"
    job.write_text(json.dumps({"config": lineage.config, "snapshot": str(snapshot),
                               "estimator": lineage.tags["estimator"], "params": lineage.params}))
    env = {**os.environ, "PYTHONPATH": str(code / "plugins")}
    done = subprocess.run([sys.executable, str(RETRAIN), str(job), str(work)], env=env, cwd=code,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise ReproduceError(f"retraining at commit {lineage.tags['code.commit'][:12]} failed:\n{done.stderr[-3000:]}")
    return json.loads((work / "result.json").read_text())


def compare(lineage: Lineage, retrained: dict[str, Any], work: Path, snapshot: Path) -> Report:
    """Holdout metrics against the logged ones, predictions against the registered model's."""
    import numpy as np
    import pandas as pd

    from mlcycle.core import registry, tracking, training
    from mlcycle.core.config import PipelineConfig

    report = Report()
    logged = tracking.run_metrics(lineage.run_id)
    for name, value in sorted(retrained["metrics"].items()):
        before = logged.get(f"holdout_{name}")
        report.lines.append(f"  holdout {name:<10} registered {before}  reproduced {value}")
        if before != value:
            report.differences.append(f"holdout {name}: registered {before}, reproduced {value}")
    config = PipelineConfig.model_validate(lineage.config)
    frame = pd.read_parquet(snapshot)
    holdout = frame[frame[training.SPLIT_COLUMN] == "holdout"]
    predicted, probability = training.predict(registry.load_model(config.model_name, lineage.version), holdout, config)
    mine = np.load(work / "predictions.npz")
    changed = int((np.asarray(predicted) != mine["predicted"]).sum())
    report.lines.append(f"  holdout predictions: {len(holdout)} rows, {changed} differ")
    if changed:
        report.differences.append(f"{changed} of {len(holdout)} holdout predictions differ")
    if probability is not None:
        gap = float(np.max(np.abs(np.asarray(probability) - mine["probability"]))) if len(holdout) else 0.0
        report.lines.append(f"  holdout probabilities: max abs difference {gap}")
        if gap:
            report.differences.append(f"holdout probabilities differ by up to {gap}")
    return report


def reproduce(pipeline: str, version: int, strict_env: bool = False, repo: Path | None = None) -> Report:
    """Every step above; returns the comparison (raises :class:`ReproduceError` on a refusal)."""
    from mlcycle.core import versioning

    repo = repo or settings.REPO_ROOT
    work = Path(tempfile.mkdtemp(prefix=f"reproduce-{pipeline}-v{version}-"))
    try:
        _say(1, f"reading the lineage of {pipeline} v{version} from {settings.mlflow_tracking_uri()}")
        lineage = read_lineage(pipeline, version, work)
        tags = lineage.tags
        _say(2, f"data: restoring md5 {tags['data.md5']} from the DVC remote {settings.dvc_remote_uri()}")
        try:
            snapshot = versioning.restore(lineage.pointer, tags["data.md5"], work / "dvc")
        except versioning.SnapshotMissing as exc:
            raise ReproduceError(str(exc)) from exc
        commit = check_commit(tags, repo)
        _say(3, f"code: commit {commit} (clean at training); checking it out into a temporary worktree")
        _worktree(repo, commit, work / "code")
        lock = work / "code" / "requirements.txt"
        _say(4, f"environment: Python {tags.get('env.python', '?')}, lock md5 {tags.get('env.lock_md5', '?')}")
        for note in check_environment(tags, lock.read_text() if lock.exists() else None, strict_env):
            print(f"      warning: {note}", flush=True)
        _say(5, f"retraining {tags['estimator']} with {lineage.params} at commit {commit[:12]}")
        retrained = _retrain(lineage, snapshot, work / "code", work)
        _say(6, "comparing holdout metrics and predictions with the registered model")
        return compare(lineage, retrained, work, snapshot)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(work / "code")], cwd=repo, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make reproduce", description=__doc__.split("\n\n")[0],
        epilog="example: make reproduce PIPELINE=flights VERSION=3   (or: python -m mlcycle.tools.reproduce "
               "flights 3). Exit 0: identical; 1: differences (listed); 2: refused (the reason is printed).")
    parser.add_argument("pipeline", help="pipeline name (include/pipelines/<name>.yaml)")
    parser.add_argument("version", type=_version, help="model version number (a positive integer)")
    parser.add_argument("--strict-env", action="store_true",
                        help="refuse when the Python version or an installed package differs from the recorded lock")
    return parser


def _version(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a version number: give a positive integer, e.g. 3")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings.quiet_third_parties()
    try:
        report = reproduce(args.pipeline, args.version, args.strict_env)
    except DataError as exc:
        print(f"reproduce: refused: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines))
    if report.identical:
        print(f"IDENTICAL: {args.pipeline} v{args.version} reproduced from its lineage")
        return 0
    print(f"DIFFERENT: {args.pipeline} v{args.version} did not reproduce:\n  - " + "\n  - ".join(report.differences))
    return 1


if __name__ == "__main__":
    sys.exit(main())
