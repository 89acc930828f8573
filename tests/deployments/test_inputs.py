"""Prediction requests checked against a signature: every client mistake is a 4xx that names it."""

from __future__ import annotations

import pytest

from apps.deployments.inputs import InputError, checked_columns, parse_body
from apps.validation.engine.answers import as_frame

SIGNATURE = {
    "task": "binary",
    "features": [
        {"name": "income", "kind": "numeric", "nullable": False},
        {"name": "debt", "kind": "numeric", "nullable": True},
        {"name": "segment", "kind": "categorical", "nullable": False},
        {"name": "existing", "kind": "boolean", "nullable": False},
    ],
}
ROW = {"income": 52.5, "debt": 11, "segment": "retail", "existing": True}


def frame_of(payload: object, max_rows: int = 100):  # type: ignore[no-untyped-def]
    if isinstance(payload, str):
        payload = parse_body(payload.encode())
    return as_frame(checked_columns(payload, SIGNATURE, max_rows))


def test_records_and_columns_give_the_same_frame_in_the_models_column_order():
    shuffled = {"segment": "retail", "existing": True, "debt": None, "income": 1}
    records = frame_of([ROW, shuffled])
    columns = frame_of(
        {
            "columns": {
                "existing": [True, True],
                "income": [52.5, 1],
                "segment": ["retail", "retail"],
                "debt": [11, None],
            }
        }
    )
    wrapped = frame_of({"records": [ROW, shuffled]})
    assert list(records.columns) == ["income", "debt", "segment", "existing"]
    assert records.equals(columns) and records.equals(wrapped)
    assert records["income"].tolist() == [52.5, 1.0]


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ("{not json", 400, "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, 400, "nested too deeply"),
        ('[{"income": NaN, "debt": 1, "segment": "a", "existing": true}]', 422, "NaN"),
        ('[{"income": Infinity, "debt": 1, "segment": "a", "existing": true}]', 422, "Infinity"),
        ('[{"income": 1e999, "debt": 1, "segment": "a", "existing": true}]', 422, "finite"),
        ('[{"income": 1, "segment": "a", "existing": true}]', 422, "missing columns: debt"),
        (
            '[{"income": 1, "debt": 1, "segment": "a", "existing": true, "age": 30}]',
            422,
            "unexpected columns: age",
        ),
        ('[{"income": "high", "debt": 1, "segment": "a", "existing": true}]', 422, "income, row 0"),
        ('[{"income": true, "debt": 1, "segment": "a", "existing": true}]', 422, "got bool"),
        ('[{"income": 1, "debt": 1, "segment": 3, "existing": true}]', 422, "expected text"),
        ('[{"income": 1, "debt": 1, "segment": "a", "existing": "yes"}]', 422, "true or false"),
        ('[{"income": null, "debt": 1, "segment": "a", "existing": true}]', 422, "required"),
        ("[]", 422, "at least one row"),
        ('"rows"', 422, "list of records"),
        ("[1, 2]", 422, "Row 0 is not an object"),
        ('{"columns": {"income": [1, 2], "debt": [1]}}', 422, "same length"),
        ('{"columns": [1, 2]}', 422, "map each feature"),
    ],
)
def test_a_bad_request_is_refused_with_a_reason(body, status, names):
    with pytest.raises(InputError) as refused:
        frame_of(body)
    assert refused.value.status == status
    assert names in refused.value.message


def test_a_missing_value_is_allowed_where_the_holdout_had_missing_values():
    frame = frame_of('[{"income": 1, "debt": null, "segment": "a", "existing": false}]')
    assert frame["debt"].isna().all()


def test_too_many_rows_is_a_413_naming_the_limit():
    with pytest.raises(InputError) as refused:
        frame_of([ROW] * 11, max_rows=10)
    assert refused.value.status == 413 and "11 rows is more than the 10" in refused.value.message
    with pytest.raises(InputError) as refused:
        frame_of({"columns": {k: [v] * 11 for k, v in ROW.items()}}, max_rows=10)
    assert refused.value.status == 413
