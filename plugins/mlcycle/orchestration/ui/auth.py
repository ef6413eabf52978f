"""Authentication of the plugin's pages with Airflow's own auth manager.

Airflow authenticates its core API with a router-level dependency; a plugin app is mounted beside
it and inherits nothing, so every route here depends on :func:`require_user`. The credential is the
one the Airflow UI already holds: its JWT in the ``_token`` cookie (set at login), or an
``Authorization: Bearer <jwt>`` header from ``POST /auth/token``. The configured auth manager
validates it (signature, expiry, revocation) and must allow the user to see the Airflow website.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status


class NotAuthenticated(HTTPException):
    """401/403 that the app renders as a login link for browsers and as JSON for API clients."""


def _token(request: Request) -> str | None:
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()  # an explicit credential wins over the session cookie, as in Airflow
    return request.cookies.get(COOKIE_NAME_JWT_TOKEN) or None


async def require_user(request: Request) -> Any:
    """The Airflow user behind the request; 401 without a valid credential, 403 without access."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from jwt import ExpiredSignatureError, InvalidTokenError

    token = _token(request)
    if not token:
        raise NotAuthenticated(status.HTTP_401_UNAUTHORIZED, "Not authenticated: log in to Airflow first")
    auth_manager = get_auth_manager()
    try:
        user = await auth_manager.get_user_from_token(token)
    except ExpiredSignatureError:
        raise NotAuthenticated(status.HTTP_401_UNAUTHORIZED, "Session expired: log in to Airflow again") from None
    except InvalidTokenError:
        raise NotAuthenticated(status.HTTP_403_FORBIDDEN, "Invalid token") from None
    if not auth_manager.is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise NotAuthenticated(status.HTTP_403_FORBIDDEN, "Your Airflow role may not see this page")
    return user


def login_url(request: Request) -> str:
    """Airflow's login page, returning to the page that was refused."""
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager().get_url_login(next_url=str(request.url))
    except Exception:  # no auth manager (or one without a login page): the UI's root asks to log in
        return "/"
