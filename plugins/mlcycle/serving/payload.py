"""Turn a request body into the model's input frame, or say exactly what is wrong with it.

The body is JSON: a list of records, or ``{"records": [...]}``, or MLflow's ``{"dataframe_records": [...]}``
(so the same payload works against ``mlflow models serve``). Each record must carry every column the
model was trained on, with the type the pipeline's data contract (``columns`` in its config) gives it;
``null`` is allowed (the model imputes it, as in batch). Other keys (the label, the key) are ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import TYPE_CHECKING, Any

from mlcycle.core.config import PipelineConfig

if TYPE_CHECKING:
    import pandas as pd

MAX_PROBLEMS = 10


class PayloadError(ValueError):
    """A request that cannot be scored: ``status`` (400, 413, 422) and a message naming the problem and the fix."""

    def __init__(self, status: int, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems or []

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, **({"problems": self.problems} if self.problems else {})}


def records_of(body: bytes, max_rows: int) -> list[dict[str, Any]]:
    """The records of a JSON body (400 when it is no JSON, 422 when it holds no records or too many)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(400, f"the body is not JSON ({exc}); send a list of records, e.g. "
                                '[{"carrier": "UA", "distance": 1400.0, ...}]') from None
    if isinstance(data, dict):
        key = next((k for k in ("records", "dataframe_records") if k in data), None)
        if key is None:
            raise PayloadError(422, "a JSON object needs the key 'records' (a list of records); "
                                    f"got keys {sorted(data)[:10]}")
        data = data[key]
    if not isinstance(data, list):
        raise PayloadError(422, f"expected a list of records, got a JSON {type(data).__name__}")
    if not data:
        raise PayloadError(422, "the list of records is empty: send at least one record")
    if len(data) > max_rows:
        raise PayloadError(422, f"{len(data)} records in one request; at most {max_rows} "
                                "(MLCYCLE_SERVING_MAX_ROWS): split the request")
    return data


def _problem(kind: str, value: Any) -> str | None:
    """Why ``value`` does not fit a column of type ``kind``; None when it fits."""
    if value is None:
        return None
    if kind in ("int", "float"):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and not (
            isinstance(value, float) and math.isinf(value))
        return None if ok else f"expected a number ({kind}), got {type(value).__name__} {json.dumps(value)[:40]}"
    if kind == "bool":
        return None if isinstance(value, bool) else f"expected true or false, got {json.dumps(value)[:40]}"
    if kind in ("date", "datetime"):
        try:
            (dt.date if kind == "date" else dt.datetime).fromisoformat(value)
            return None
        except (TypeError, ValueError):
            return f"expected an ISO {kind} string, got {json.dumps(value)[:40]}"
    return None if isinstance(value, str) else f"expected a string, got {type(value).__name__} {json.dumps(value)[:40]}"


def check(records: list[Any], columns: list[str], config: PipelineConfig) -> None:
    """422 naming the record, the column and the problem, for at most :data:`MAX_PROBLEMS` problems."""
    kinds = {c: config.columns.get(c, "string") for c in columns}
    problems: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            problems.append({"record": index, "problem": f"expected an object of columns, got {type(record).__name__}"})
        else:
            problems += [{"record": index, "column": c, "problem": "missing"} for c in columns if c not in record]
            problems += [{"record": index, "column": c, "problem": why} for c in columns if c in record
                         and (why := _problem(kinds[c], record[c]))]
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        first = problems[0]
        where = f"record {first['record']}" + (f", column '{first['column']}'" if "column" in first else "")
        raise PayloadError(422, f"{where}: {first['problem']} (the model needs the columns {columns}; "
                                f"{len(problems)}{'+' if len(problems) >= MAX_PROBLEMS else ''} problem(s) listed)",
                           problems[:MAX_PROBLEMS])


def frame_of(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """``columns`` of checked records, in order, None where a record lacks one (a shadow model's own column);
    types are cast by ``training.prepare``."""
    import pandas as pd

    return pd.DataFrame.from_records([{c: r.get(c) for c in columns} for r in records], columns=columns)
