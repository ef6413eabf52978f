"""Issue 12: pages built from data are sandboxed content; the plugin's own pages escape what comes from data.

The headers of every route of the plugin's app, the signed content URLs (forged, expired, of another
report, out of their folder), the separate reports origin, the escaping of the overview, and the JSON
that Evidently embeds in its HTML. Fixtures (``client``, ``lake``, ``token``) are in ``conftest.py``.
"""

from __future__ import annotations

import json
import re

import pytest

PAYLOAD = "</script><script>alert(document.cookie)</script><img src=x onerror=alert(1)>\"'><svg onload=alert(1)>"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _src(client, token: str, path: str) -> str:
    page = client.get(path, headers=_auth(token))
    assert page.status_code == 200, page.text
    return re.search(r"<iframe id='mlcycle-content'[^>]* src='([^']+)'", page.text)[1].replace("&amp;", "&")


def _csp(response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in (p.strip() for p in policy.split(";"))}


def _assert_own_page(response) -> None:
    csp = _csp(response)
    assert csp["default-src"] == "'none'", csp  # no script at all: a missed escape could not run one
    assert "script-src" not in csp
    assert csp["frame-ancestors"] == "'self'"
    assert csp["frame-src"] == "'self'"


def _assert_sandboxed(response) -> None:
    csp = _csp(response)
    assert csp["sandbox"] == "allow-scripts allow-popups", csp
    assert "allow-same-origin" not in response.headers["content-security-policy"]
    assert csp["frame-ancestors"] == "'self'"
    assert csp["connect-src"] == "'none'"
    assert response.headers["cache-control"] == "no-store"


@pytest.fixture
def urls(client, lake, token) -> dict[str, str]:
    """Signed content URLs as the wrapper pages hand them out."""
    return {"drift": _src(client, token, "/mlcycle/reports/flights/drift/2013-07-01"),
            "gate": _src(client, token, "/mlcycle/reports/flights/gate/v3"),
            "docs": _src(client, token, "/mlcycle/data-docs/")}


def test_every_route_sends_its_security_headers(client, lake, token, urls):
    login = {"headers": _auth(token)}
    own = ["/mlcycle/reports/", "/mlcycle/reports/flights/drift/2013-07-01", "/mlcycle/reports/flights/gate/v3",
           "/mlcycle/data-docs/", "/mlcycle/data-docs/validations/run.html", "/mlcycle/nothing-here",
           "/mlcycle/reports/flights/gate/v9", "/mlcycle/data-docs/missing.html"]
    for path in own:
        response = client.get(path, **login)
        assert response.status_code in (200, 404), path
        _assert_own_page(response)
    _assert_own_page(client.get("/mlcycle/", follow_redirects=False, **login))
    _assert_own_page(client.get("/mlcycle/reports/", headers={"Accept": "text/html"}))  # 401 login page
    _assert_own_page(client.get("/mlcycle/reports/"))  # 401 JSON
    data = client.get("/mlcycle/reports/flights/drift/2013-07-01/json", **login)
    assert _csp(data) == {"sandbox": "", "default-src": "'none'", "frame-ancestors": "'none'"}
    docs = urls["docs"].rstrip("/")
    (lake / "gx" / "data_docs" / "custom.css").write_text("body{}")  # a Data Docs file that is not a page
    for url in (urls["drift"], urls["gate"], urls["docs"], f"{docs}/validations/run.html", f"{docs}/missing.html",
                f"{docs}/custom.css", urls["drift"].replace("/content/", "/content/x"),
                urls["gate"].replace("gate_report", "drift_report")):
        _assert_sandboxed(client.get(url))
    for path in ("/mlcycle/static/vendor/jquery/jquery.min.js", "/mlcycle/static/gx/logo-long.png",
                 "/mlcycle/static/vendor/missing.js"):
        response = client.get(path)
        assert response.headers["access-control-allow-origin"] == "*"  # fonts load from an opaque origin
        assert _csp(response) == {"sandbox": "", "default-src": "'none'", "frame-ancestors": "'none'"}
    every = [client.get(p, **login) for p in own] + [client.get(u) for u in urls.values()]
    assert all(r.headers["x-content-type-options"] == "nosniff" for r in every)
    assert all(r.headers["referrer-policy"] == "no-referrer" for r in every)


def test_a_content_url_needs_its_signature_and_grants_one_report_or_the_data_docs(client, lake, urls):
    client.cookies.clear()
    assert "evidently drift" in client.get(urls["drift"]).text  # no login: the signature is the credential
    token = urls["drift"].split("/content/")[1].split("/")[0]
    forged = urls["drift"].replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    assert client.get(forged).status_code == 403
    assert client.get(urls["drift"].replace("drift_report.html", "gate_report.html")).status_code == 404
    docs = urls["docs"].rstrip("/")
    assert client.get(f"{docs}/validations/run.html").status_code == 200
    for escape in ("..%2f..%2fsecret.txt", "escape.html", "%2e%2e/%2e%2e/secret.txt"):
        response = client.get(f"{docs}/{escape}")
        assert response.status_code == 404, escape
        assert "do not serve" not in response.text
    assert client.get(urls["gate"].replace("/content/", "/content/.")).status_code == 403


def test_a_content_url_expires(client, lake, urls, monkeypatch):
    monkeypatch.setenv("MLCYCLE_CONTENT_URL_SECONDS", "-1")
    expired = client.get(urls["drift"])
    assert expired.status_code == 403
    assert "expired" in expired.text
    _assert_sandboxed(expired)


def test_a_separate_reports_origin_serves_the_content(client, lake, token, monkeypatch):
    monkeypatch.setenv("MLCYCLE_REPORTS_ORIGIN", "https://reports.example.com/")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team-a")
    page = client.get("/mlcycle/reports/flights/drift/2013-07-01", headers=_auth(token))
    src = re.search(r"src='([^']+)'", page.text)[1]
    assert src.startswith("https://reports.example.com/mlcycle/content/")
    assert _csp(page)["frame-src"] == "'self' https://reports.example.com"
    content = client.get(src.removeprefix("https://reports.example.com"))
    assert _csp(content)["frame-ancestors"] == "'self' https://airflow.example.com"
    monkeypatch.setenv("MLCYCLE_REPORTS_ORIGIN", "reports.example.com/path")
    from mlcycle import settings

    with pytest.raises(ValueError, match="not an origin"):
        settings.reports_origin()


def test_the_overview_escapes_what_comes_from_the_lake(client, lake, token):
    from mlcycle import settings
    from mlcycle.core import storage

    drift = f"{settings.lake_uri()}/reports/flights/drift/ds=2013-07-03"
    storage.write_bytes_atomic(f"{drift}/drift_report.html", b"<html><body>r</body></html>")
    manifest = {"ds": PAYLOAD, "drift": True, "share": PAYLOAD, "champion": PAYLOAD, "drifted_columns": [PAYLOAD]}
    storage.write_bytes_atomic(f"{drift}/_manifest.json", json.dumps(manifest).encode())
    gate = f"{settings.lake_uri()}/reports/flights/gate/v4"
    storage.write_bytes_atomic(f"{gate}/gate_report.json", json.dumps({"verdict": {"passed": False,
                                                                                   "reasons": [PAYLOAD]}}).encode())
    for path in ("/mlcycle/reports/", "/mlcycle/reports/flights/drift/2013-07-03"):
        page = client.get(path, headers=_auth(token)).text
        assert not re.search(r"<(script|img|svg)", page), path
        assert "&lt;/script&gt;&lt;script&gt;alert(document.cookie)" in page, path
    assert "/mlcycle/reports/flights/drift/2013-07-03'" in client.get("/mlcycle/reports/", headers=_auth(token)).text


def test_evidentlys_embedded_data_cannot_close_its_script(client, lake, token):
    """A category value ``</script>...`` in a real Evidently report: escaped on write, and on serve for old ones."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from mlcycle.core.report_html import escape_embedded_json, save_html

    definition = DataDefinition(categorical_columns=["dest"])
    current = pd.DataFrame({"dest": [PAYLOAD] * 20 + ["ATL"] * 30})
    reference = pd.DataFrame({"dest": ["ATL", "ORD"] * 25})
    snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(current, data_definition=definition),
                                                Dataset.from_pandas(reference, data_definition=definition))
    raw = snapshot.get_html_str(as_iframe=False)
    assert PAYLOAD.split("<img")[0] in raw  # what Evidently writes: the value can end the <script> element
    save_html(snapshot, lake / "report.html")
    written = (lake / "report.html").read_text()
    closes = raw.count("</script><script>alert(document.cookie)</script>")
    assert closes > 0
    assert written.count("</script>") == raw.count("</script>") - 2 * closes
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(document.cookie)" in written
    assert escape_embedded_json(written) == written  # idempotent
    script = 'var a = 1; var b = {"x": "</script>"};'
    assert escape_embedded_json(script) == 'var a = 1; var b = {"x": "\\u003c/script\\u003e"};'

    from mlcycle import settings
    from mlcycle.core import storage

    old = f"{settings.lake_uri()}/reports/flights/gate/v3/gate_report.html"  # written before the fix
    storage.write_bytes_atomic(old, f"<html><body><script>var d = {json.dumps({'v': PAYLOAD})};</script>".encode())
    served = client.get(_src(client, token, "/mlcycle/reports/flights/gate/v3")).text
    assert "<script>alert(document.cookie)" not in served
    assert served.count("</script>") == 2  # the report's own, and the in-memory storage's (first in <head>)


def test_the_demo_summary_prints_no_control_character():
    """The demo prints reasons and tags to a terminal: no escape sequence from data reaches it."""
    from mlcycle.tools.demo_summary import terminal_safe

    assert terminal_safe("drift\x1b]0;pwned\x07 on\x9b2J temp,\tdewp\nnext") == "drift]0;pwned on2J temp,\tdewp\nnext"
