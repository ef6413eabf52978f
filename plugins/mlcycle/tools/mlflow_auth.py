"""MLflow's built-in auth app (``mlflow server --app-name basic-auth``) for the embedded stack and compose.

- :func:`write_config`: the app's settings file: users in a database of their own, ``READ`` for every
  user on what they did not create, the admin's name;
- :func:`ensure_service_account`: as the admin, create the pipeline's service account (or reset its
  password to the configured one) and grant it ``MANAGE`` on every registered model and experiment.
  ``EDIT`` is not enough: MLflow lets only ``MANAGE`` delete an alias (the registry drops ``challenger``
  and ``previous``) or a run (monitoring replaces a re-checked day's run).

``python -m mlcycle.tools.mlflow_auth`` runs :func:`ensure_service_account` against
``$MLFLOW_TRACKING_URI`` with the credentials of the environment (compose's one-shot ``mlflow-init``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from mlcycle import settings

SERVICE_GRANTS = {"registered_model": "MANAGE", "experiment": "MANAGE"}
# Checking a password costs a key derivation (about 0.5 s a request here): the app caches a good check this long.
AUTH_CACHE_SECONDS = 60


class MlflowAuthError(RuntimeError):
    """The auth app refused a request; the message says which and why."""


def write_config(path: Path, database_uri: str, admin_username: str) -> Path:
    """The auth app's ini file (``$MLFLOW_AUTH_CONFIG_PATH``); the admin's password is passed apart, in
    ``$MLFLOW_AUTH_ADMIN_PASSWORD``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[mlflow]\n"
                    "default_permission = READ\n"
                    f"database_uri = {database_uri}\n"
                    f"admin_username = {admin_username}\n"
                    "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                    f"auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}\n")
    return path


def _call(http: httpx.Client, method: str, path: str, **kwargs) -> httpx.Response:
    response = http.request(method, path, **kwargs)
    if response.status_code >= 400 and "RESOURCE_ALREADY_EXISTS" not in response.text:
        raise MlflowAuthError(f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}")
    return response


def ensure_service_account(url: str, admin: tuple[str, str], account: tuple[str, str]) -> None:
    """Create ``account`` (username, password), or reset its password, and grant it :data:`SERVICE_GRANTS`."""
    username, password = account
    with httpx.Client(base_url=url.rstrip("/"), auth=admin, timeout=60) as http:
        exists = http.get("/api/2.0/mlflow/users/get", params={"username": username}).status_code == 200
        if exists:
            _call(http, "PATCH", "/api/2.0/mlflow/users/update-password",
                  json={"username": username, "password": password})
        else:
            _call(http, "POST", "/api/2.0/mlflow/users/create", json={"username": username, "password": password})
        for resource_type, permission in SERVICE_GRANTS.items():
            grant = {"username": username, "resource_type": resource_type, "resource_id": "*"}
            if _call(http, "POST", "/api/3.0/mlflow/users/permissions/grant",
                     json={**grant, "permission": permission}).status_code >= 400:  # granted before: grant anew
                _call(http, "POST", "/api/3.0/mlflow/users/permissions/revoke", json=grant)
                _call(http, "POST", "/api/3.0/mlflow/users/permissions/grant", json={**grant, "permission": permission})
    print(f"MLflow service account '{username}': {'password reset' if exists else 'created'}, "
          f"{', '.join(f'{p} on every {t}' for t, p in SERVICE_GRANTS.items())}", flush=True)


def main() -> None:
    admin, account = settings.mlflow_admin(), settings.mlflow_service_account()
    missing = [name for name, value in (("MLFLOW_AUTH_ADMIN_USERNAME", admin[0]),
                                        ("MLFLOW_AUTH_ADMIN_PASSWORD", admin[1]),
                                        ("MLCYCLE_MLFLOW_SERVICE_PASSWORD", account[1])) if not value]
    if missing:
        sys.exit(f"error: set {', '.join(missing)}")
    try:
        ensure_service_account(settings.mlflow_tracking_uri(), admin, account)
    except (MlflowAuthError, httpx.TransportError) as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
