"""Evidently's HTML, written so that data inside it stays data.

Evidently embeds a report's results in the page as JavaScript: ``var <name> = <JSON>;`` inside a
``<script>`` element. The JSON is ``json.dumps`` output, which leaves ``<`` as it is, so a category value
``</script><script>...`` (a landed string column) ends the element early: the rest of Evidently's script
becomes a syntax error and the value's own script runs. :func:`escape_embedded_json` finds each such JSON
literal by parsing it (a ``</script>`` inside a string does not fool a JSON parser) and writes ``<``, ``>``
and ``&`` as ``\\u003c``, ``\\u003e`` and ``\\u0026``: the same value to JavaScript, nothing to the HTML parser.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_ASSIGNMENT = re.compile(r"\bvar\s+[A-Za-z_$][\w$]*\s*=\s*(?=[\[{])")
_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def escape_embedded_json(html: str) -> str:
    """``html`` with every JSON literal assigned by ``var name = {...}`` escaped for a ``<script>`` element."""
    decoder = json.JSONDecoder()
    out, at = [], 0
    while match := _ASSIGNMENT.search(html, at):
        start = match.end()
        try:
            _, end = decoder.raw_decode(html, start)
        except json.JSONDecodeError:  # not a JSON literal (plain JavaScript): leave it
            out.append(html[at:start])
            at = start
            continue
        literal = html[start:end]  # JSON text: "<", ">" and "&" can only be inside its strings
        out.append(html[at:start] + re.sub("[<>&]", lambda m: _UNSAFE[m[0]], literal))
        at = end
    out.append(html[at:])
    return "".join(out)


def save_html(snapshot: Any, path: str | Path) -> None:
    """Write an Evidently snapshot's standalone HTML page to ``path``, its embedded data escaped."""
    Path(path).write_text(escape_embedded_json(snapshot.get_html_str(as_iframe=False)), encoding="utf-8")
