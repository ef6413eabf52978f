"""``make reproduce``'s refusals and its environment check, on this repository's git history."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from mlcycle.tools import reproduce

REPO = Path(__file__).resolve().parents[2]
HEAD = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def test_a_clean_known_commit_is_accepted():
    assert reproduce.check_commit({"code.commit": HEAD, "code.dirty": "false"}, REPO) == HEAD


@pytest.mark.parametrize(("tags", "message"), [
    ({"code.commit": f"{HEAD}+dirty", "code.dirty": "true"}, "trained from a dirty tree"),
    ({"code.commit": HEAD, "code.dirty": "true"}, "trained from a dirty tree"),
    ({"code.commit": "unknown", "code.dirty": "unknown"}, "MLCYCLE_CODE_VERSION, which is 'unknown' unless set"),
    ({"code.commit": "f" * 40, "code.dirty": "false"}, f"unknown commit {'f' * 40}: this clone"),
])
def test_a_commit_that_cannot_be_checked_out_is_refused(tags, message):
    with pytest.raises(reproduce.ReproduceError, match=message):
        reproduce.check_commit(tags, REPO)


def _lock(**pins: str) -> str:
    return "".join(f"{name}=={version}\n    # via something\n" for name, version in pins.items())


def test_the_same_environment_has_nothing_to_say():
    lock = _lock(numpy=metadata.version("numpy"), pyyaml=metadata.version("pyyaml"))
    tags = {"env.python": platform.python_version(), "env.lock_md5": hashlib.md5(lock.encode()).hexdigest()}
    assert reproduce.check_environment(tags, lock, strict=True) == []


def test_a_different_environment_warns_pin_by_pin_and_strict_refuses():
    lock = _lock(numpy="0.0.1", pyyaml=metadata.version("pyyaml"), **{"not-installed-here": "1.0"})
    tags = {"env.python": "3.10.0", "env.lock_md5": "0" * 32}
    notes = reproduce.check_environment(tags, lock, strict=False)
    assert f"Python is {platform.python_version()} here, 3.10.0 at training" in notes
    assert "the recorded commit's requirements.txt does not hash to env.lock_md5" in notes
    assert f"numpy: {metadata.version('numpy')} installed, 0.0.1 in the recorded lock" in notes
    assert "not-installed-here: not installed, 1.0 in the recorded lock" in notes
    assert not [n for n in notes if n.startswith("pyyaml")]
    with pytest.raises(reproduce.ReproduceError, match="--strict-env"):
        reproduce.check_environment(tags, lock, strict=True)


def test_usage_errors_name_the_fix(capsys):
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main(["flights", "three"])
    assert exit_info.value.code == 2
    assert "'three' is not a version number: give a positive integer, e.g. 3" in capsys.readouterr().err
