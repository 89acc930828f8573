"""Checking prediction requests against a version's input signature. Pure functions.

A request is JSON: a list of records (``[{"income": 1.0, ...}, ...]``), or
``{"records": [...]}``, or ``{"columns": {"income": [...], ...}}``. Every problem is an
InputError with the HTTP status and a sentence naming the column, row or limit at fault: a client
never sees a 500 for its own mistake.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

_NUMBER = (int, float)


class InputError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _no_constants(name: str) -> float:
    raise InputError(422, f"{name} is not a number JSON allows; send null for a missing value.")


def parse_body(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_no_constants)
    except InputError:
        raise
    except RecursionError:
        raise InputError(400, "The JSON is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(400, f"The body is not valid JSON: {exc}") from None


def _columns_of(payload: Any, features: Sequence[str], max_rows: int) -> dict[str, list[Any]]:
    if isinstance(payload, dict) and "columns" in payload:
        columns = payload["columns"]
        if not isinstance(columns, dict):
            raise InputError(422, "“columns” must map each feature to a list of values.")
        lengths = {len(v) for v in columns.values() if isinstance(v, list)}
        if any(not isinstance(v, list) for v in columns.values()) or len(lengths) > 1:
            raise InputError(422, "Each column must be a list, and all of the same length.")
        rows = lengths.pop() if lengths else 0
        _check_rows(rows, max_rows)
        _check_names(set(columns), features, "")
        return {name: columns[name] for name in features}
    records = payload.get("records") if isinstance(payload, dict) else payload
    if not isinstance(records, list):
        raise InputError(422, 'Send a list of records, {"records": [...]} or {"columns": {...}}.')
    _check_rows(len(records), max_rows)
    expected = set(features)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(422, f"Row {index} is not an object of feature values.")
        if record.keys() != expected:
            _check_names(set(record), features, f"row {index}: ")
    return {name: [record[name] for record in records] for name in features}


def _check_rows(rows: int, max_rows: int) -> None:
    if rows == 0:
        raise InputError(422, "Send at least one row.")
    if rows > max_rows:
        raise InputError(413, f"{rows} rows is more than the {max_rows} one request may carry.")


def _check_names(given: set[str], features: Sequence[str], where: str) -> None:
    missing = [f for f in features if f not in given]
    extra = sorted(given - set(features))
    parts = []
    if missing:
        parts.append("missing columns: " + ", ".join(missing))
    if extra:
        parts.append("unexpected columns: " + ", ".join(extra))
    if parts:
        raise InputError(422, where + "; ".join(parts) + ".")


def _check_values(name: str, kind: str, nullable: bool, values: list[Any]) -> None:
    for index, value in enumerate(values):
        if value is None:
            if not nullable:
                raise InputError(
                    422,
                    f"Column {name}, row {index}: a value is required (the "
                    "model was validated without missing values here).",
                )
        elif kind == "numeric":
            if not isinstance(value, _NUMBER) or isinstance(value, bool):
                raise InputError(
                    422,
                    f"Column {name}, row {index}: expected a number, got {type(value).__name__}.",
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise InputError(422, f"Column {name}, row {index}: the number must be finite.")
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise InputError(422, f"Column {name}, row {index}: expected true or false.")
        elif not isinstance(value, str):
            raise InputError(
                422, f"Column {name}, row {index}: expected text, got {type(value).__name__}."
            )


def checked_columns(payload: Any, signature: dict[str, Any], max_rows: int) -> dict[str, list[Any]]:
    """The request's values by feature, in the model's column order, once every rule holds."""
    features = [f["name"] for f in signature["features"]]
    columns = _columns_of(payload, features, max_rows)
    for feature in signature["features"]:
        _check_values(
            feature["name"], feature["kind"], feature["nullable"], columns[feature["name"]]
        )
    return columns
