"""Data versioning with DVC: every lake partition is added to a DVC repo and pushed to its remote.

The DVC workspace mirrors the lake layout (``<zone>/<pipeline>/ds=<date>/data.parquet``). Its
``.dvc`` pointer holds the md5 that lineage records carry; the remote holds the content, so any
version can be pulled back by md5. Parallel tasks share the repo, so every operation holds a lock.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlcycle import settings
from mlcycle.core import object_store, storage
from mlcycle.core.locks import file_lock

log = logging.getLogger(__name__)
REMOTE_NAME = "lake"


@dataclass(frozen=True)
class DataVersion:
    """What lineage needs to find a dataset again: content md5, pointer file and its text."""

    md5: str
    path: str
    pointer: str
    pointer_text: str
    remote: str


def _repo(root: Path, remote: str):
    from dvc.repo import Repo

    if not (root / ".dvc").exists():
        root.mkdir(parents=True, exist_ok=True)
        Repo.init(str(root), no_scm=True)
        log.info("initialised DVC repo at %s", root)
    repo = Repo(str(root))
    with repo.config.edit() as conf:
        conf["core"]["analytics"] = False
        conf["core"]["remote"] = REMOTE_NAME
        conf["remote"][REMOTE_NAME] = {"url": remote}
    if object_store.is_s3(remote):  # endpoint and credentials from the Airflow connection, in memory only
        repo = Repo(str(root), config={"remote": {REMOTE_NAME: object_store.dvc_remote(remote)}})
    return repo


def version_file(source_uri: str, relative_path: str, root: Path | None = None,
                 remote: str | None = None) -> DataVersion:
    """Copy ``source_uri`` into the DVC workspace at ``relative_path``, add it and push it."""
    return version_files([(source_uri, relative_path)], root, remote)[0]


def version_files(files: list[tuple[str, str]], root: Path | None = None,
                  remote: str | None = None) -> list[DataVersion]:
    """:func:`version_file` for several ``(source_uri, relative_path)`` pairs: one lock, one ``dvc add`` and
    one ``dvc push`` for them all (a chunk of days). Adding a file DVC already tracks with the same content
    changes nothing, so a retry may pass files versioned before."""
    root = root or settings.dvc_repo_dir()
    remote = remote or settings.dvc_remote_uri()
    targets = [root / relative_path for _, relative_path in files]
    with file_lock(root.parent / f".{root.name}.lock"):
        repo = _repo(root, remote)
        for (source_uri, _), target in zip(files, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(storage.read_bytes(source_uri))
        repo.add([str(target) for target in targets])
        repo.push(targets=[str(target) for target in targets])
        texts = [target.with_name(target.name + ".dvc").read_text() for target in targets]
    versions = []
    for (_, relative_path), target, text in zip(files, targets, texts, strict=True):
        md5 = yaml.safe_load(text)["outs"][0]["md5"]
        versions.append(DataVersion(md5=md5, path=relative_path, pointer=str(target.with_name(target.name + ".dvc")),
                                    pointer_text=text, remote=remote))
    log.info("versioned %d file(s) with DVC (%s), pushed to %s", len(files),
             ", ".join(f"{v.path} md5 {v.md5}" for v in versions), remote)
    return versions


def load_version(relative_path: str, md5: str, root: Path | None = None, remote: str | None = None) -> bytes:
    """The content DVC versioned at ``relative_path``, checked against ``md5``.

    A workspace copy with that md5 is read as is; otherwise DVC checks it out from its cache or pulls
    it from the remote.
    """
    root = root or settings.dvc_repo_dir()
    pointer = root / f"{relative_path}.dvc"
    with file_lock(root.parent / f".{root.name}.lock"):
        if not pointer.exists():
            raise FileNotFoundError(f"no DVC pointer {pointer}: was {relative_path} versioned in this repo?")
        recorded = yaml.safe_load(pointer.read_text())["outs"][0]["md5"]
        if recorded != md5:
            raise ValueError(f"DVC pointer {pointer} holds md5 {recorded}, lineage expects {md5}")
        target = root / relative_path
        if not (target.exists() and hashlib.md5(target.read_bytes()).hexdigest() == md5):
            repo = _repo(root, remote or settings.dvc_remote_uri())
            repo.pull(targets=[str(pointer)], force=True)  # from the cache, else from the remote
        data = target.read_bytes()
    log.info("loaded %s from DVC (md5 %s)", relative_path, md5)
    return data


class SnapshotMissing(FileNotFoundError):
    """The DVC remote no longer holds a version's data."""


def restore(pointer_text: str, md5: str, folder: Path, remote: str | None = None) -> Path:
    """Pull the content a DVC pointer names from the remote alone (a new repo under ``folder``, no cache).

    The returned file's md5 is checked against ``md5``; content missing from the remote raises
    :class:`SnapshotMissing` naming the md5 and the remote.
    """
    from dvc.exceptions import DvcException

    remote = remote or settings.dvc_remote_uri()
    outs = yaml.safe_load(pointer_text)["outs"][0]
    if outs["md5"] != md5:
        raise ValueError(f"the recorded DVC pointer holds md5 {outs['md5']}, the lineage tag says {md5}")
    logging.getLogger("dvc.repo.init").setLevel(logging.WARNING)  # not "Initialized DVC repository." each time
    repo = _repo(folder, remote)
    pointer = folder / f"{outs['path']}.dvc"
    pointer.write_text(pointer_text)
    try:
        repo.pull(targets=[str(pointer)])
    except DvcException as exc:
        raise SnapshotMissing(
            f"the DVC remote {remote} has no object with md5 {md5}: the training "
            "snapshot of this version is lost: push it again from a DVC cache or workspace that still has it "
            "(dvc push), or point MLCYCLE_DVC_REMOTE at the remote that holds it") from exc
    target = folder / outs["path"]
    if not target.exists() or hashlib.md5(target.read_bytes()).hexdigest() != md5:
        raise SnapshotMissing(f"the DVC remote {remote} did not give back md5 {md5} for {outs['path']}")
    log.info("restored %s (md5 %s) from the DVC remote %s", outs["path"], md5, remote)
    return target
