"""Read a landed file, check its contract, normalise its types.

A file that cannot be trusted as a whole (empty, not in its encoding, truncated, too many malformed
rows, not what its manifest says, missing or unexpected columns, wrong types, wrong date) raises
:class:`IngestError`; single bad rows (a wrong number of fields, exact duplicates, rows of another day)
are set aside for quarantine with a reason. The landed file itself is never modified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from mlcycle.core.config import PipelineConfig
from mlcycle.core.formats import MAX_EXAMPLES, IngestError, check_manifest, parse

if TYPE_CHECKING:
    import pandas as pd

REASON_COLUMN = "_quarantine_reason"


class Ingested(NamedTuple):
    """One landed file, ingested: typed rows kept, typed rows quarantined, malformed rows (by line)."""

    kept: pd.DataFrame
    quarantined: pd.DataFrame
    malformed: pd.DataFrame


def cast_column(values: pd.Series, kind: str) -> pd.Series:
    """Text (or, from parquet, typed values) as the column's type; what does not parse becomes null."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values) or (kind == "bool" and pd.api.types.is_bool_dtype(values)):
        return _cast_typed(values, kind)
    if kind == "int":
        numbers = pd.to_numeric(values, errors="coerce", dtype_backend="numpy_nullable")
        fits = (numbers % 1 == 0) & (numbers.abs() < 2**63)  # 1.5 or 1e20 is no int64: it fails to parse
        return numbers.where(fits.fillna(False)).astype("Int64")
    if kind == "float":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if kind == "bool":
        values = values if pd.api.types.is_object_dtype(values) else values.astype("string")
        return values.str.lower().map({"true": True, "false": False, "1": True, "0": False}).astype("boolean")
    if kind == "date":
        return pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    if kind == "datetime":
        return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    return values.astype("string")


def _cast_typed(values: pd.Series, kind: str) -> pd.Series:
    """Typed values of a parquet file: booleans, and timestamps (a date must be a midnight)."""
    if kind == "bool":
        return values.astype("boolean")
    utc = values.dt.tz_convert("UTC") if values.dt.tz is not None else values.dt.tz_localize("UTC")
    if kind == "datetime":
        return utc.astype("datetime64[ns, UTC]")
    naive = utc.dt.tz_localize(None).astype("datetime64[ns]")
    if kind == "date":
        return naive.where(naive == naive.dt.normalize())
    return values.astype("string") if kind == "string" else values.where(values.isna())  # no number is a time


def normalise(frame: pd.DataFrame, config: PipelineConfig, source: str, unit: str = "line") -> pd.DataFrame:
    """Cast every column to its configured type; any value that does not parse is an error.

    ``frame``'s index is where each row stands in the file, called ``unit`` in the message."""
    out = frame.copy()
    problems = []
    for column, kind in config.columns.items():
        cast = cast_column(frame[column], kind)
        bad = frame[column].notna() & cast.isna()
        if bad.any():
            rows = [f"{unit} {i}: {frame[column][i]!r}" for i in bad[bad].index[:MAX_EXAMPLES]]
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


def ingest_file(data: bytes, config: PipelineConfig, ds: str, source: str, manifest: bytes | None = None,
                manifest_uri: str = "") -> Ingested:
    """The whole ingest of one landed file: parse (checking its manifest, when there is one), normalise, split."""
    import pandas as pd

    parsed = parse(data, config, source)
    if manifest is not None:
        check_manifest(manifest, data, parsed, source, manifest_uri)
    kept, quarantined = split_rows(normalise(parsed.frame, config, source, parsed.unit), config, ds, source)
    malformed = parsed.malformed.assign(**{REASON_COLUMN: pd.Series(
        [f"line {line}: {fields} fields, the header has {len(parsed.frame.columns)}"
         for line, fields in zip(parsed.malformed["line"], parsed.malformed["fields"], strict=True)],
        index=parsed.malformed.index, dtype="string")})
    return Ingested(kept, quarantined, malformed)


def ingest_bytes(data: bytes, config: PipelineConfig, ds: str, source: str
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The typed rows of :func:`ingest_file`: (kept, quarantined); its malformed rows are left out."""
    kept, quarantined, _ = ingest_file(data, config, ds, source)
    return kept, quarantined
