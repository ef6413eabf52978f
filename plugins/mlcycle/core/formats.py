"""A landed file's bytes as a frame of its columns: CSV in the pipeline's dialect, or parquet.

Whether the file is whole is decided here, before any value is typed:

- a CSV is pre-scanned record by record (the ``csv`` module, same dialect) for rows whose number of
  fields differs from the header's. A cut last line (no final newline and the wrong number of fields)
  refuses the file as truncated; other such rows are set aside with their line numbers, and the file
  is refused when their share is above ``landing.max_malformed_share``. Files without such rows are
  parsed exactly as before (``pandas.read_csv(dtype=str)``), so their typed rows and md5 do not change;
- a parquet file that cannot be read (cut short, or not parquet) is refused;
- a producer manifest beside the file (``landing.manifest``) is checked: the md5 and size of the bytes,
  and the number of data rows.

The frame's index is where each row stands in the file: its line (CSV) or its row number (parquet).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcycle.core.config import PipelineConfig
from mlcycle.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

MAX_EXAMPLES = 3
MALFORMED_COLUMNS = ("line", "fields", "text")


class IngestError(DataError):
    """The landed file cannot be ingested; the message says what is wrong and how to fix it."""


@dataclass
class Parsed:
    """The file's rows as text columns (``frame``, indexed by position in the file), the rows set aside
    as malformed (``line``, ``fields``, ``text``), and what a position is called in messages (``unit``)."""

    frame: pd.DataFrame
    malformed: pd.DataFrame
    unit: str

    @property
    def records(self) -> int:
        return len(self.frame) + len(self.malformed)


def parse(data: bytes, config: PipelineConfig, source: str) -> Parsed:
    """The landed bytes in the pipeline's format, with the header checked against ``columns``."""
    if not data.strip():
        raise IngestError(f"{source} is empty; ask the producer to re-send the day's export")
    parsed = _parquet(data, source) if config.landing.format == "parquet" else _csv(data, config, source)
    frame = parsed.frame
    missing = [c for c in config.columns if c not in frame.columns]
    extra = [c for c in frame.columns if c not in config.columns]
    if missing or extra:
        raise IngestError(
            f"{source} does not match the schema of pipeline '{config.name}': "
            f"missing columns {missing}, unexpected columns {extra}. Fix the export, or update "
            f"'columns' in include/pipelines/{config.name}.yaml and its expectation suite")
    if frame.empty:
        raise IngestError(f"{source} has a header but no rows: an empty batch is not ingested; "
                          "re-send the export once the day has data")
    parsed.frame = frame[list(config.columns)]
    return parsed


def _decode(data: bytes, encoding: str, source: str) -> str:
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    try:
        text = data.decode("utf-8-sig" if utf8 else encoding)  # a byte-order mark is tolerated
    except UnicodeDecodeError as exc:
        name = "UTF-8" if utf8 else encoding
        raise IngestError(f"{source} is not valid {name} (byte {data[exc.start]:#04x} at offset {exc.start}); "
                          f"re-export the file as {name}, or set landing.encoding to the file's encoding") from exc
    return text.removeprefix("\ufeff")


def _scan(lines: list[str], landing, source: str) -> tuple[tuple[int, int], list[tuple[int, int, int]]]:
    """The header's field count and last line, and each record after it: (first line, last line, field count)."""
    reader = csv.reader(lines, delimiter=landing.delimiter, quotechar=landing.quotechar)
    records, last, header = [], 0, (0, 0)
    try:
        for fields in reader:
            first, last = last + 1, reader.line_num
            if len(fields) <= 1 and not "".join(fields).strip():
                continue  # a blank line, which pandas skips too
            if header == (0, 0):
                header = (len(fields), last)
            else:
                records.append((first, last, len(fields)))
    except csv.Error as exc:
        raise IngestError(f"{source} is not a well-formed CSV: {exc} (line {reader.line_num})") from exc
    return header, records


def _csv(data: bytes, config: PipelineConfig, source: str) -> Parsed:
    import pandas as pd

    landing = config.landing
    text = _decode(data, landing.encoding, source)
    lines = io.StringIO(text, newline="").readlines()
    (expected, header_end), records = _scan(lines, landing, source)
    bad = [r for r in records if r[2] != expected]
    if bad and bad[-1] == records[-1] and not text.endswith(("\n", "\r")):
        first, _, fields = bad[-1]
        raise IngestError(f"{source} is truncated: its last line ({first}) has {fields} of {expected} fields and "
                          "no final newline, so the file was cut short (still being written, or an export that "
                          "stopped half way). Nothing was ingested; ask the producer to re-send the whole file")
    if bad and len(bad) / len(records) > landing.max_malformed_share:
        examples = ", ".join(f"line {first}: {fields} fields" for first, _, fields in bad[:MAX_EXAMPLES])
        raise IngestError(f"{source} is not a well-formed CSV: {len(bad)} of {len(records)} rows "
                          f"({len(bad) / len(records):.1%}) do not have the header's {expected} fields ({examples}), "
                          f"above the limit of {landing.max_malformed_share:.1%} (landing.max_malformed_share). "
                          "Check the export's delimiter and quoting (landing.delimiter, landing.quotechar)")
    good = [r for r in records if r[2] == expected]
    if bad:  # parse the header and the good records only
        text = "".join(lines[:header_end]) + "".join("".join(lines[a - 1:b]) for a, b, _ in good)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=True, sep=landing.delimiter,
                            quotechar=landing.quotechar)
    except pd.errors.ParserError as exc:
        raise IngestError(f"{source} is not a well-formed CSV: {exc}") from exc
    if len(frame) == len(good):
        frame.index = pd.Index([first for first, _, _ in good])
    else:  # the two parsers counted rows differently (e.g. quoted line breaks): count lines from the top
        frame.index = frame.index + 2
    frame = _decimal_point(frame, config)
    malformed = pd.DataFrame({"line": pd.array([a for a, _, _ in bad], dtype="Int64"),
                              "fields": pd.array([n for _, _, n in bad], dtype="Int64"),
                              "text": pd.array(["".join(lines[a - 1:b]).rstrip("\r\n") for a, b, _ in bad],
                                               dtype="string")})
    return Parsed(frame, malformed, "line")


def _decimal_point(frame: pd.DataFrame, config: PipelineConfig) -> pd.DataFrame:
    """Numbers written with another decimal mark (``landing.decimal``), as the parser reads them."""
    mark = config.landing.decimal
    if mark == ".":
        return frame
    numeric = [c for c, kind in config.columns.items() if kind in ("int", "float") and c in frame.columns]
    return frame.assign(**{c: frame[c].str.replace(mark, ".", regex=False) for c in numeric})


def _parquet(data: bytes, source: str) -> Parsed:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{source} is not a readable parquet file ({exc}): it was cut short or is not parquet. "
                          "Nothing was ingested; ask the producer to re-send the whole file") from exc
    frame = table.to_pandas(date_as_object=False)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):  # dictionary-encoded text
            frame[column] = frame[column].astype(object)
    frame.index = frame.index + 1
    return Parsed(frame, pd.DataFrame(columns=list(MALFORMED_COLUMNS)), "row")


def check_manifest(manifest: bytes, data: bytes, parsed: Parsed, source: str, where: str) -> None:
    """The producer's manifest (``where``) against the landed bytes and rows: any of ``md5`` (hex, of the
    file's bytes), ``bytes`` and ``rows`` (data rows, header excluded); at least one."""
    try:
        fields: Any = json.loads(manifest)
    except ValueError as exc:
        raise IngestError(f"the manifest {where} of {source} is not valid JSON ({exc}); the producer must "
                          "re-send it") from exc
    if not isinstance(fields, dict) or not {"md5", "bytes", "rows"} & set(fields):
        raise IngestError(f"the manifest {where} of {source} has none of the fields md5, bytes, rows; the "
                          "producer must re-send it (see docs/adding-a-pipeline.md)")
    found = {"md5": hashlib.md5(data).hexdigest(), "bytes": len(data), "rows": parsed.records}
    wrong = [f"{key} {found[key]} where the manifest says {fields[key]}" for key in ("md5", "bytes", "rows")
             if key in fields and str(fields[key]).lower() != str(found[key])]
    if wrong:
        raise IngestError(f"{source} is not the file its manifest {where} describes: {'; '.join(wrong)}. It was "
                          "cut short or changed after the manifest was written; nothing was ingested. Ask the "
                          "producer to re-send the file and then its manifest")
