"""A loopback HTTP proxy that can fail on demand, in front of the S3 stand-in (moto cannot inject faults).

``python -m mlcycle.tools.faultproxy <listen port> <target port> <control.json>`` forwards every request
to ``127.0.0.1:<target port>`` unchanged (Host header included: the clients' signatures stay valid). The
control file, read at every request, switches the fault on: ``{"mode": "5xx"}`` answers ``503 SlowDown``
as S3 does when it sheds load; ``{"mode": "refuse"}`` closes the connection without an answer; anything
else, or no file, passes. :func:`set_mode` writes it atomically.

Why not a library: Toxiproxy (the usual fault proxy) is a Go program that Debian and PyPI do not ship, and
it injects latency and resets at the TCP level, not HTTP status codes.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b"<Message>fault injected by mlcycle.tools.faultproxy</Message></Error>")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


def set_mode(control: Path, mode: str) -> None:
    """Switch the proxy reading ``control`` to ``mode`` (``pass``, ``5xx`` or ``refuse``)."""
    tmp = control.with_suffix(".tmp")
    tmp.write_text(json.dumps({"mode": mode}))
    os.replace(tmp, control)


def mode(control: Path) -> str:
    try:
        found = json.loads(control.read_text()).get("mode", "pass")
        return found if found in ("5xx", "refuse") else "pass"
    except (OSError, ValueError):
        return "pass"


def handler(target: int, control: Path) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # one line per request would flood the log
            pass

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            fault = mode(control)
            if fault != "pass":
                print(f"fault {fault}: {self.command} {self.path}", flush=True)  # what the tests count
            if fault == "refuse":
                self.close_connection = True
                return
            if fault == "5xx":
                self.send_response(503)
                self.send_header("content-type", "application/xml")
                self.send_header("content-length", str(len(SLOW_DOWN)))
                self.end_headers()
                self.wfile.write(SLOW_DOWN)
                return
            upstream = http.client.HTTPConnection("127.0.0.1", target, timeout=120)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
            except OSError:
                self.send_error(502, "S3 stand-in unreachable")
                return
            finally:
                upstream.close()
            self.send_response(answer.status, answer.reason)
            head = self.command == "HEAD"  # its content-length is the object's, with no body
            for key, value in answer.getheaders():
                if key.lower() not in HOP_BY_HOP and (head or key.lower() != "content-length"):
                    self.send_header(key, value)
            if not head:
                self.send_header("content-length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    return Forward


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m mlcycle.tools.faultproxy <listen port> <target port> <control.json>", file=sys.stderr)
        return 2
    server = ThreadingHTTPServer(("127.0.0.1", int(args[0])), handler(int(args[1]), Path(args[2])))
    server.daemon_threads = True
    print(f"faultproxy: 127.0.0.1:{args[0]} -> 127.0.0.1:{args[1]}, faults from {args[2]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
