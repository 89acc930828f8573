"""Whether serving may give a model its rows as one float array is decided at validation, in the
sandbox, on the version's holdout rows (``engine.answers.array_check``): recorded on the report's
serving path, and said on the report page and in the API as "takes arrays" or "needs its
DataFrame" with the reason."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io

from apps.validation.engine import answers
from apps.validation.models import ValidationReport
from tests.validation.conftest import frame, upload, validate_now

pytestmark = pytest.mark.django_db
FEATURES = ["income", "debt", "tenure"]


def _report(version) -> ValidationReport:  # type: ignore[no-untyped-def]
    return ValidationReport.objects.filter(version=version).latest()


def numeric_logistic_regression() -> bytes:
    """A plain LogisticRegression fitted on a DataFrame of numbers (it records their names)."""
    from sklearn.linear_model import LogisticRegression

    train = frame(1200, 11)
    return skops.io.dumps(LogisticRegression().fit(train[FEATURES], train["default"]))


def columns_by_name_pipeline() -> bytes:
    """Numeric features too, but a ColumnTransformer picks them by name: it needs its DataFrame."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = frame(1200, 12)
    model = make_pipeline(
        make_column_transformer(
            (StandardScaler(), ["income", "debt"]), ("passthrough", ["tenure"])
        ),
        LogisticRegression(),
    ).fit(train[FEATURES], train["default"])
    return skops.io.dumps(model)


def _page_and_api(client, people, version) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    client.force_login(people.alice)
    page = client.get(version.get_absolute_url())
    assert page.status_code == 200
    api = client.get(f"/api/v1/models/{version.model.slug}/versions/{version.number}/validation/")
    assert api.status_code == 200
    return page.content.decode(), api.json()


def test_a_numeric_logistic_regression_fitted_on_a_dataframe_is_recorded_as_taking_arrays(
    people, alices_model, models, media_root, client
):
    version = upload(
        alices_model, people.alice, numeric_logistic_regression(), holdout=models.holdout
    )
    validate_now(version)
    report = _report(version)
    assert report.outcome == ValidationReport.Outcome.PASSED, report.reasons
    arrays = report.data["serving_path"]["arrays"]
    assert arrays["takes_arrays"] is True, arrays
    assert arrays["rows_checked"] == 600  # every holdout row
    assert arrays["reason"] == "answers identical to its DataFrame on all 600 holdout rows"
    assert report.serving_path is not None
    assert report.serving_path["takes_arrays"] is True

    page, api = _page_and_api(client, people, version)
    assert "takes arrays: the rows go to the model as a plain array of numbers" in page
    assert "answers identical to its DataFrame on all 600 holdout rows" in page
    assert api["report"]["serving_path"]["takes_arrays"] is True
    assert api["report"]["serving_path"] == report.serving_path


def test_a_pipeline_choosing_its_columns_by_name_is_recorded_as_needing_its_dataframe(
    people, alices_model, models, media_root, client
):
    version = upload(alices_model, people.alice, columns_by_name_pipeline(), holdout=models.holdout)
    validate_now(version)
    report = _report(version)
    assert report.outcome == ValidationReport.Outcome.PASSED, report.reasons
    arrays = report.data["serving_path"]["arrays"]
    assert arrays["takes_arrays"] is False, arrays
    assert arrays["reason"].startswith(
        "given the rows without their column names it fails (ValueError: "
    ), arrays
    assert "dataframe" in arrays["reason"].lower()  # scikit-learn's own words say why

    page, api = _page_and_api(client, people, version)
    assert "needs its DataFrame: the rows go to the model as a pandas DataFrame" in page
    assert "given the rows without their column names it fails" in page
    assert api["report"]["serving_path"]["takes_arrays"] is False
    assert api["report"]["serving_path"]["arrays_reason"] == arrays["reason"]


# --- The check itself, outside the sandbox -----------------------------------------------------


class DoublesArrays:
    """Answers differently when its rows come without their names (what the check must catch:
    a model that does not fail on an array, but answers wrong)."""

    def fit(self, X, y):  # type: ignore[no-untyped-def]
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):  # type: ignore[no-untyped-def]
        first = np.asarray(X, dtype=float)[:, 0]
        if isinstance(X, np.ndarray):
            first = first * 2
        return (first > 55).astype(int)

    def predict_proba(self, X):  # type: ignore[no-untyped-def]
        p = self.predict(X).astype(float)
        return np.column_stack([1 - p, p])


def _signature(kinds: dict[str, str]) -> dict:
    return {"features": [{"name": n, "kind": k} for n, k in kinds.items()]}


def test_a_model_answering_differently_from_an_array_is_caught_and_the_rows_counted():
    data = frame(300, 13)
    model = DoublesArrays().fit(data[FEATURES], data["default"])
    record = answers.array_check(
        model,
        task="binary",
        signature=_signature(dict.fromkeys(FEATURES, "numeric")),
        holdout=data,
    )
    differing = int(np.sum((data["income"] > 55) != (data["income"] * 2 > 55)))
    assert differing > 0
    assert record["takes_arrays"] is False
    assert record["reason"] == (
        "given the rows without their column names it answers differently on "
        f"{differing:,} of all 300 holdout rows"
    )


def test_the_check_answers_as_serving_does_missing_values_included(monkeypatch):
    from sklearn.ensemble import HistGradientBoostingClassifier

    data = frame(400, 14)
    data.loc[::7, "debt"] = np.nan  # a client sends null: NaN in the array and in the frame
    model = HistGradientBoostingClassifier(max_iter=20).fit(data[FEATURES], data["default"])
    signature = _signature(dict.fromkeys(FEATURES, "numeric"))
    record = answers.array_check(model, task="binary", signature=signature, holdout=data)
    assert record["takes_arrays"] is True, record

    columns = answers.request_columns(data, FEATURES)
    assert columns["debt"][0] is None and isinstance(columns["tenure"][0], int)
    transforms, final = answers.steps_of(model)
    answered = answers.answer(transforms, final, True, answers.as_array(columns))
    assert answered["predictions"] == model.predict(data[FEATURES]).tolist()
    assert np.allclose(answered["probabilities"], model.predict_proba(data[FEATURES]), atol=1e-6)

    # A large holdout is checked on an evenly spaced sample, at most ARRAY_CHECK_VALUES values.
    monkeypatch.setattr(answers, "ARRAY_CHECK_VALUES", 300)
    record = answers.array_check(model, task="binary", signature=signature, holdout=data)
    assert record["takes_arrays"] is True
    assert record["rows_checked"] == 100
    assert record["reason"].endswith("on 100 holdout rows (an evenly spaced sample of 400)")


def test_a_feature_that_is_not_numeric_needs_the_dataframe_without_trying():
    data = frame(50, 15)
    record = answers.array_check(
        object(),
        task="binary",
        signature=_signature({**dict.fromkeys(FEATURES, "numeric"), "age_band": "categorical"}),
        holdout=data,
    )
    assert record == {"takes_arrays": False, "reason": "a feature is not numeric (age_band)"}
