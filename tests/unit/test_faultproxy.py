"""The loopback fault proxy in front of the S3 stand-in: it passes requests unchanged, or fails them on demand."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mlcycle.tools import faultproxy


class Echo(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        data = f"{self.command} {self.path} host={self.headers['host']} body={body.decode()}".encode()
        self.send_response(200)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = _answer


def _serve(server: ThreadingHTTPServer) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


@pytest.fixture
def proxy(tmp_path: Path):
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    control = tmp_path / "proxy.json"
    front = ThreadingHTTPServer(("127.0.0.1", 0), faultproxy.handler(upstream.server_address[1], control))
    for server in (upstream, front):
        _serve(server)
    yield f"http://127.0.0.1:{front.server_address[1]}", control
    for server in (upstream, front):
        server.shutdown()


def test_requests_pass_unchanged_then_fail_with_503_or_no_answer_on_demand(proxy):
    url, control = proxy
    passed = httpx.put(f"{url}/bucket/key?x=1", content=b"parquet")
    assert passed.status_code == 200
    assert passed.text == f"PUT /bucket/key?x=1 host={url.removeprefix('http://')} body=parquet"
    head = httpx.head(f"{url}/bucket/key")
    assert head.headers["content-length"] == str(len(f"HEAD /bucket/key host={url[7:]} body="))

    faultproxy.set_mode(control, "5xx")
    failed = httpx.get(f"{url}/bucket/key")
    assert failed.status_code == 503
    assert "<Code>SlowDown</Code>" in failed.text
    faultproxy.set_mode(control, "refuse")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/bucket/key")
    faultproxy.set_mode(control, "pass")
    assert httpx.get(f"{url}/bucket/key").status_code == 200
