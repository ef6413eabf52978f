"""docker-compose.yaml as the one source of the production topology's settings, read without Docker.

The native topology (:mod:`mlcycle.tools.topology`) runs what compose declares: each service's
``environment``, ``command`` and ``entrypoint``, with compose's own variable rules, and only the host names
of the compose network swapped for loopback addresses. So a setting changed in compose is what the native
topology runs, and a setting that compose requires (``${VAR:?...}``) is required here too.

- :func:`load`: the file, YAML anchors and ``<<`` merges resolved (PyYAML does both);
- :func:`env_file`: the variables of an ``.env`` file (python-dotenv, the parser compose's docs follow);
- :func:`interpolate`: compose's substitution: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
  ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}`` (a default holding another ``${...}`` is not supported);
- :func:`service`: one service with every string interpolated;
- :func:`loopback`: ``<service>:<port>`` in URLs (after ``//`` or ``@``) replaced by ``127.0.0.1:<port>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|"
                      r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


class ComposeError(ValueError):
    """The compose file cannot be turned into settings; the message names the variable or service."""


def load(path: Path) -> dict[str, Any]:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ComposeError(f"cannot read {path}: {exc}") from exc


def env_file(path: Path) -> dict[str, str]:
    """The non-empty assignments of an ``.env`` file (empty ones count as unset, as compose's ``:?`` does)."""
    from dotenv import dotenv_values

    if not path.exists():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v}


def interpolate(text: str, variables: Mapping[str, str], where: str = "") -> str:
    """``text`` with compose's variable substitution; a missing required variable raises :class:`ComposeError`
    with compose's own message."""
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["plain"] or match["name"]
        value, op, arg = variables.get(name), match["op"] or "", match["arg"] or ""
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            return interpolate(arg, variables, where) if unset else str(value)
        if op.endswith("?") and unset:
            raise ComposeError(f"{where}: {name} is required: {arg or 'set it'}")
        return "" if value is None else str(value)

    return VARIABLE.sub(replace, text)


def _walk(value: Any, variables: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):
        return interpolate(value, variables, where)
    if isinstance(value, list):
        return [_walk(v, variables, where) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, variables, f"{where}.{k}") for k, v in value.items()}
    return value


def service(compose: Mapping[str, Any], name: str, variables: Mapping[str, str]) -> dict[str, Any]:
    """Service ``name`` with every string interpolated; ``environment`` always a dict of strings and
    ``command``/``entrypoint`` always lists (compose accepts a string or a list for each)."""
    try:
        raw = compose["services"][name]
    except KeyError:
        raise ComposeError(f"docker-compose.yaml has no service '{name}'") from None
    found = _walk(raw, variables, f"services.{name}")
    environment = found.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    found["environment"] = {k: "" if v is None else str(v) for k, v in environment.items()}
    for key in ("command", "entrypoint"):
        if isinstance(found.get(key), str):
            found[key] = found[key].split()
    return found


def required(compose: Mapping[str, Any]) -> set[str]:
    """The variables compose refuses to start without (``${VAR:?...}`` or ``${VAR?...}``)."""
    return {m["name"] for m in VARIABLE.finditer(yaml.safe_dump(compose, width=10_000))
            if m["name"] and (m["op"] or "").endswith("?")}


def loopback(text: str, ports: Mapping[str, int]) -> str:
    """``text`` with each ``<service>:<container port>`` of a URL (after ``//`` or ``@``) sent to loopback:
    ``ports`` maps ``"<service>:<container port>"`` to the native port."""
    for address, port in ports.items():
        text = re.sub(rf"(?<=[/@]){re.escape(address)}(?![0-9])", f"127.0.0.1:{port}", text)
    return text


def loopback_env(env: Mapping[str, str], ports: Mapping[str, int]) -> dict[str, str]:
    return {k: loopback(v, ports) for k, v in env.items()}
