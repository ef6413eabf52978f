"""The package's shape: imports point down the layers, the core runs without Airflow, environment
variables are read in one module, and no module or function outgrows a reading.

Layers, bottom up (docs/architecture.md): the base (``mlcycle.settings``, ``mlcycle.errors``),
``core``, then ``sources`` and ``stages``, then ``orchestration`` (Airflow) and ``serving`` (the online app,
no Airflow), then ``tools``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "plugins" / "mlcycle"
ALLOWED = {
    "base": {"base"},
    "core": {"base", "core"},
    "sources": {"base", "core", "sources"},
    "stages": {"base", "core", "stages"},
    "orchestration": {"base", "core", "stages", "orchestration"},
    "serving": {"base", "core", "stages", "serving"},
    "tools": {"base", "core", "stages", "orchestration", "serving", "sources", "tools"},
}
WITHOUT_AIRFLOW = {"base", "core", "sources", "stages", "serving"}
# The one documented exception: S3 settings come from an Airflow connection, resolved lazily at run time.
AIRFLOW_ADAPTERS = {"core/object_store.py"}
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60
TEMPLATES = {("plugins/mlcycle/tools/scaffold_render.py", "render_config")}  # a data template: the YAML it writes


def layer_of(module: str) -> str | None:
    """The layer of a dotted ``mlcycle...`` module name (None outside the package)."""
    parts = module.split(".")
    if parts[0] != "mlcycle":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "base"


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, with its line: top-level, local and TYPE_CHECKING imports alike."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "static" not in p.parts)


def wrong_way_imports(path: Path) -> list[str]:
    """The imports of ``path`` that point up a layer, or into Airflow from a layer that must run without it."""
    relative = path.relative_to(PACKAGE)
    own = layer_of("mlcycle." + ".".join(relative.with_suffix("").parts))
    problems = []
    for line, name in imports(path):
        target = layer_of(name)
        if target and target not in ALLOWED[own]:
            problems.append(f"{relative}:{line} ({own}) imports {name} ({target})")
        if name.split(".")[0] == "airflow" and own in WITHOUT_AIRFLOW and relative.as_posix() not in AIRFLOW_ADAPTERS:
            problems.append(f"{relative}:{line} ({own}) imports Airflow: {name}")
    return problems


def test_every_import_points_down_the_layers_and_the_core_runs_without_airflow():
    problems = [problem for path in modules() for problem in wrong_way_imports(path)]
    assert not problems, "wrong-way imports (see docs/architecture.md):\n" + "\n".join(problems)


def test_the_check_catches_a_wrong_way_import(tmp_path):
    for layer, line in (("core", "from mlcycle.stages import scoring"), ("stages", "import airflow.sdk"),
                        ("core", "from mlcycle.orchestration.assets import pipeline_asset"),
                        ("serving", "from mlcycle.orchestration import factory"), ("serving", "import airflow")):
        fake = PACKAGE / layer / "_probe_wrong_way.py"
        try:
            fake.write_text(f"{line}\n")
            assert wrong_way_imports(fake), f"{layer}: {line} was not caught"
        finally:
            fake.unlink()


def _environment_reads(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        call = isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv")
        item = (isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ"
                and isinstance(node.ctx, ast.Load))
        membership = isinstance(node, ast.Compare) and any(ast.unparse(c) == "os.environ" for c in node.comparators)
        if call or item or membership:
            lines.append(node.lineno)
    return lines


def test_environment_variables_are_read_in_settings_only():
    reads = [f"{path.relative_to(PACKAGE)}:{line}" for path in modules() if path.name != "settings.py"
             for line in _environment_reads(ast.parse(path.read_text(encoding="utf-8")))]
    assert not reads, f"read the variable through mlcycle.settings instead: {reads}"


@pytest.mark.parametrize("folder", ["plugins", "bench"])
def test_no_module_or_function_outgrows_a_reading(folder):
    too_long = []
    for path in sorted((REPO / folder).rglob("*.py")):
        if "static" in path.parts:
            continue
        text, where = path.read_text(encoding="utf-8"), path.relative_to(REPO).as_posix()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{where}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (where, node.name) not in TEMPLATES:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{where}:{node.lineno} {node.name}(): {length} lines")
    assert not too_long, (f"split these (at most {MAX_MODULE_LINES} lines a module, "
                          f"{MAX_FUNCTION_LINES} a function):\n" + "\n".join(too_long))
