"""The GitHub Actions workflow against actionlint (the binary ships in a PyPI wheel, pinned in
requirements-dev.txt): the shipped workflow is clean, and a broken one is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or "actionlint"


def _lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([ACTIONLINT, "-no-color", str(path)], capture_output=True, text=True, cwd=REPO)


def test_the_ci_workflow_passes_actionlint():
    done = _lint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_ci_workflow_runs_make_test_in_debian_with_a_cached_venv():
    text = WORKFLOW.read_text()
    assert "image: python:3.11-bookworm" in text
    assert "run: make test" in text
    assert "hashFiles('requirements.txt', 'requirements-dev.txt')" in text


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "ci.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    needs: build")
                      .replace("${{ runner.os }}", "${{ runner.oss }}"))
    done = _lint(broken)
    assert done.returncode == 1
    assert 'job "test" needs job "build" which does not exist' in done.stdout
    assert "oss" in done.stdout
