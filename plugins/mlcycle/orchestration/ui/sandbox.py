"""Pages built from data run as sandboxed content: signed URLs, and the security headers of every route.

A drift report, a gate report or a GX Data Docs page carries strings from landed files; whatever
HTML or script an attacker put there must not run in Airflow's origin, where it could read the
admin's ``_token`` cookie (not HttpOnly) and call the API with it. So the plugin never serves such a
page from an authenticated route. Its own page (the "wrapper") shows a banner and an
``<iframe sandbox="allow-scripts allow-popups">`` whose ``src`` is a **content URL**:
``<reports origin><prefix>/content/<token>/<path>``. The token is a short-lived signature
(itsdangerous, keyed with Airflow's ``[api] secret_key``) of what the frame may read: one drift report,
one gate report, or the Data Docs folder (whose pages link to each other relatively). The content
route needs no cookie, which a sandboxed frame, having an opaque origin, would not send anyway.

Every content response carries ``Content-Security-Policy: sandbox allow-scripts allow-popups`` (never
``allow-same-origin``), so it runs in an opaque origin even when opened on its own: no cookie, no
storage, no credentialed call to Airflow. The vendored static assets (no data in them) are public.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from mlcycle import settings

SANDBOX = "allow-scripts allow-popups"  # Evidently's and GX's scripts run; never allow-same-origin
CONTENT = "content"  # <prefix>/content/<token>/<path>
_SALT = "mlcycle.orchestration.ui.sandboxed-content"
_KINDS = ("drift", "gate", "docs", "overview")


class ContentRefused(Exception):
    """A content URL whose token is forged, of another kind, or expired."""


def _serializer() -> Any:
    from airflow.api_fastapi.auth.tokens import get_signing_key
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(get_signing_key("api", "secret_key"), salt=_SALT)


def grant(kind: str, pipeline: str = "", key: str = "") -> str:
    """What one token lets a frame read: ``drift/<pipeline>/<ds>``, ``gate/<pipeline>/<version>``, ``docs`` or
    ``overview/<pipeline>/charts`` (the charts of a pipeline's overview)."""
    if kind not in _KINDS:
        raise ValueError(f"unknown content kind '{kind}', expected one of {_KINDS}")
    return kind if kind == "docs" else f"{kind}/{pipeline}/{key}"


def read_token(token: str) -> list[str]:
    """What a token grants, split (``["drift", pipeline, ds]``, ...); :class:`ContentRefused` otherwise."""
    from itsdangerous import BadSignature, SignatureExpired

    try:
        granted = _serializer().loads(token, max_age=settings.content_url_seconds())
    except SignatureExpired:
        raise ContentRefused("This link has expired: reload the page to get a new one.") from None
    except BadSignature:
        raise ContentRefused("This link is not valid.") from None
    return str(granted).split("/")


def content_url(base: str, granted: str, path: str = "") -> str:
    """The signed URL of ``path`` in the scope ``granted`` (see :func:`grant`), on the reports origin if set."""
    token = _serializer().dumps(granted)
    return f"{settings.reports_origin() or ''}{base}/{CONTENT}/{token}/{quote(path)}"


def _airflow_origin() -> str:
    """Airflow's origin from ``[api] base_url`` (may frame the content when it is on another origin)."""
    from mlcycle.orchestration.links import airflow_url

    parts = urlsplit(airflow_url())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


# Web storage throws in an opaque origin (Evidently's tables read localStorage): an in-memory one per page
_STORAGE = """<script>(function () {
  function memory() {
    var items = new Map();
    return {getItem: function (k) { k = String(k); return items.has(k) ? items.get(k) : null; },
            setItem: function (k, v) { items.set(String(k), String(v)); },
            removeItem: function (k) { items.delete(String(k)); }, clear: function () { items.clear(); },
            key: function (i) { var keys = Array.from(items.keys()); return i < keys.length ? keys[i] : null; },
            get length() { return items.size; }};
  }
  ["localStorage", "sessionStorage"].forEach(function (name) {
    try { window[name]; } catch (e) {
      try { Object.defineProperty(window, name, {value: memory(), configurable: true}); } catch (ignored) {}
    }
  });
})();</script>"""


def with_storage(html: str) -> str:
    """``html`` with a script, first in its ``<head>``, that gives the sandboxed page an in-memory web storage."""
    match = re.search(r"<head(\s[^>]*)?>", html, flags=re.IGNORECASE)
    at = match.end() if match else 0
    return html[:at] + _STORAGE + html[at:]


# ---- headers ----------------------------------------------------------------------------------

_COMMON = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def page_headers() -> dict[str, str]:
    """The plugin's own pages: no script at all, framed only by Airflow, framing only content URLs."""
    frames = " ".join(filter(None, ["'self'", settings.reports_origin()]))
    csp = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
           f"frame-src {frames}; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
    return {**_COMMON, "Content-Security-Policy": csp}


def content_headers() -> dict[str, str]:
    """A page built from data: sandboxed (opaque origin), framed only by Airflow, no fetch, no external request."""
    ancestors = " ".join(dict.fromkeys(filter(None, ["'self'", _airflow_origin()])))
    csp = (f"sandbox {SANDBOX}; default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; connect-src 'none'; "
           f"form-action 'none'; base-uri 'self'; frame-ancestors {ancestors}")
    return {**_COMMON, "Content-Security-Policy": csp, "Cache-Control": "no-store"}


def data_headers() -> dict[str, str]:
    """Raw data (the report's JSON) behind a login: never a document that runs anything, never framed."""
    return {**_COMMON, "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
            "Cache-Control": "private, no-store"}


def static_headers() -> dict[str, str]:
    """Vendored assets, public: a sandboxed frame (``Origin: null``) loads them, fonts included (CORS)."""
    return {**_COMMON, "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
            "Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin"}


class SecurityHeaders:
    """ASGI middleware: every response gets :func:`page_headers` for each header its route did not set."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                from starlette.datastructures import MutableHeaders

                headers = MutableHeaders(scope=message)
                for name, value in page_headers().items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
