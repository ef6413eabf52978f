"""Read a landed CSV, check its contract, normalise its types.

A file that cannot be trusted as a whole (empty, not UTF-8, missing or unexpected columns, wrong
types, wrong date) raises :class:`IngestError`; single bad rows (exact duplicates, rows of another
day) are set aside for quarantine with a reason. The landed file itself is never modified.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from mlcycle.core.config import PipelineConfig
from mlcycle.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

REASON_COLUMN = "_quarantine_reason"
MAX_EXAMPLES = 3


class IngestError(DataError):
    """The landed file cannot be ingested; the message says what is wrong and how to fix it."""


def parse_csv(data: bytes, config: PipelineConfig, source: str) -> pd.DataFrame:
    """Decode and parse the landed bytes as text columns, checking the header against the config."""
    import pandas as pd

    if not data.strip():
        raise IngestError(f"{source} is empty; ask the producer to re-send the day's export")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{source} is not valid UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start}); "
                          "re-export the file as UTF-8") from exc
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=True)
    except pd.errors.ParserError as exc:
        raise IngestError(f"{source} is not a well-formed CSV: {exc}") from exc
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
    return frame[list(config.columns)]


def cast_column(values: pd.Series, kind: str) -> pd.Series:
    import pandas as pd

    if kind == "int":
        numbers = pd.to_numeric(values, errors="coerce", dtype_backend="numpy_nullable")
        fits = (numbers % 1 == 0) & (numbers.abs() < 2**63)  # 1.5 or 1e20 is no int64: it fails to parse
        return numbers.where(fits.fillna(False)).astype("Int64")
    if kind == "float":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if kind == "bool":
        return values.str.lower().map({"true": True, "false": False, "1": True, "0": False}).astype("boolean")
    if kind == "date":
        return pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    if kind == "datetime":
        return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    return values.astype("string")


def normalise(frame: pd.DataFrame, config: PipelineConfig, source: str) -> pd.DataFrame:
    """Cast every column to its configured type; any value that does not parse is an error."""
    out = frame.copy()
    problems = []
    for column, kind in config.columns.items():
        cast = cast_column(frame[column], kind)
        bad = frame[column].notna() & cast.isna()
        if bad.any():
            rows = [f"line {i + 2}: {frame[column][i]!r}" for i in bad[bad].index[:MAX_EXAMPLES]]
            problems.append(f"column '{column}' expects {kind} but {int(bad.sum())} value(s) do not parse "
                            f"({', '.join(rows)})")
        out[column] = cast
    if problems:
        raise IngestError(f"{source}: {'; '.join(problems)}. Fix the export, or change the column's type "
                          f"in include/pipelines/{config.name}.yaml if the data contract changed")
    return out


def split_rows(frame: pd.DataFrame, config: PipelineConfig, ds: str, source: str
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Set aside rows of another day and exact duplicates; return (kept, quarantined)."""
    import pandas as pd

    dates = frame[config.date_column].dt.strftime("%Y-%m-%d")
    wrong_day = dates != ds
    if wrong_day.all():
        found = ", ".join(sorted(dates.dropna().unique())[:MAX_EXAMPLES]) or "no dates"
        raise IngestError(f"{source} is the file for {ds} but its rows are dated {found}: "
                          "it was named for the wrong date; re-send it under the right name")
    duplicate = frame.duplicated(keep="first") & ~wrong_day
    reasons = pd.Series("", index=frame.index, dtype="string")
    reasons[wrong_day] = f"{config.date_column} is not {ds}"
    reasons[duplicate] = "exact duplicate of an earlier row"
    rejected = wrong_day | duplicate
    quarantined = frame[rejected].assign(**{REASON_COLUMN: reasons[rejected]})
    return frame[~rejected].reset_index(drop=True), quarantined.reset_index(drop=True)


def ingest_bytes(data: bytes, config: PipelineConfig, ds: str, source: str
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole ingest of one landed file: parse, normalise, split. Returns (kept, quarantined)."""
    frame = normalise(parse_csv(data, config, source), config, source)
    return split_rows(frame, config, ds, source)
