"""The baseline fixed at validation: live values counted into its bins give the rows' PSI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from apps.validation.engine import metrics, report


@pytest.mark.parametrize("seed", range(5))
def test_psi_from_a_baseline_and_live_counts_equals_psi_of_the_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    expected = rng.normal(size=2_000)
    expected[rng.random(2_000) < 0.05] = np.nan
    actual = rng.normal(0.3, 1.2, size=700)
    actual[rng.random(700) < 0.1] = np.nan

    spec = metrics.numeric_baseline(expected)
    live = metrics.bin_counts(spec, actual)

    assert sum(spec["counts"]) == 2_000 and sum(live) == 700
    assert metrics.psi_of_counts(spec["counts"], live) == pytest.approx(
        metrics.psi(expected, actual), abs=1e-12
    )


def test_live_values_as_json_carries_them_are_binned_like_numbers() -> None:
    spec = metrics.numeric_baseline(np.arange(100, dtype=float))
    # JSON gives numbers, numbers in text, null, and text that is no number (counted missing).
    live = metrics.bin_counts(spec, [3, "3", 3.0, None, "n/a", 99.5, -1e9])
    assert live == metrics.bin_counts(spec, [3.0, 3.0, 3.0, np.nan, np.nan, 99.5, -1e9])
    assert sum(live) == 7 and live[-1] == 2


def test_categorical_psi_from_counts_equals_psi_of_the_rows_with_an_unseen_category() -> None:
    rng = np.random.default_rng(1)
    expected = pd.Series(rng.choice(["retail", "sme", "corporate"], size=900, p=[0.6, 0.3, 0.1]))
    expected[:20] = None
    actual = pd.Series(rng.choice(["retail", "sme", "startup"], size=400, p=[0.4, 0.4, 0.2]))

    spec = metrics.categorical_baseline(expected)
    assert spec["categories"] == ["retail", "sme", "corporate"]
    live = metrics.bin_counts(spec, actual)

    assert live[-2] == (actual == "startup").sum()  # the unseen category counts as "other"
    assert metrics.psi_of_counts(spec["counts"], live) == pytest.approx(
        metrics.psi_categorical(expected, actual), abs=1e-12
    )


def test_only_the_top_categories_get_a_bin_of_their_own() -> None:
    values = [f"c{i}" for i in range(15) for _ in range(15 - i)]
    spec = metrics.categorical_baseline(values, top=10)
    assert spec["categories"] == [f"c{i}" for i in range(10)]
    assert spec["counts"][-2] == sum(15 - i for i in range(10, 15)) and spec["counts"][-1] == 0


def _frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"income": rng.normal(50, 10, 400), "segment": rng.choice(["a", "b"], size=400)}
    )
    frame["default"] = (frame["income"] + rng.normal(0, 8, 400) < 45).astype(int)
    return frame


def test_validation_fixes_the_baseline_of_each_feature_and_of_the_score() -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    holdout, reference = _frame(0), _frame(1).drop(columns="default")
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["segment"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(holdout[["income", "segment"]], holdout["default"])

    built = report.build(
        model,
        holdout=holdout,
        target="default",
        reference=reference,
        sensitive=None,
        champion=None,
        progress=lambda percent, step: None,
    )

    fixed = built["baseline"]
    assert fixed["sample"] == "reference"
    income, segment = fixed["features"]
    assert (income["feature"], income["kind"]) == ("income", "numeric")
    assert income == {"feature": "income", **metrics.numeric_baseline(reference["income"])}
    assert segment == {"feature": "segment", **metrics.categorical_baseline(reference["segment"])}
    probability = model.predict_proba(holdout[["income", "segment"]])[:, 1]
    assert fixed["score"] == metrics.numeric_baseline(probability)


def test_without_a_reference_the_holdout_is_the_baseline_and_a_regressor_scores_its_prediction():
    holdout = _frame(2).drop(columns="segment")
    model = LinearRegression().fit(holdout[["income"]], holdout["default"])
    built = report.build(
        model,
        holdout=holdout,
        target="default",
        reference=None,
        sensitive=None,
        champion=None,
        progress=lambda percent, step: None,
    )
    assert built["baseline"]["sample"] == "holdout"
    assert (
        built["baseline"]["features"][0]["counts"]
        == (metrics.numeric_baseline(holdout["income"])["counts"])
    )
    assert built["baseline"]["score"] == metrics.numeric_baseline(
        model.predict(holdout[["income"]])
    )


def test_psi_of_many_live_counts_at_once_equals_each_ones() -> None:
    rng = np.random.default_rng(4)
    spec = metrics.numeric_baseline(rng.normal(size=1_000))
    size = metrics.bin_count(spec)
    live = [metrics.bin_counts(spec, rng.normal(0.2 * i, 1, 50 + i)) for i in range(30)]
    live += [None, [0] * size, rng.integers(0, 3, size).tolist()]
    assert metrics.psi_of_each(spec["counts"], live) == pytest.approx(
        [metrics.psi_of_counts(spec["counts"], c) if c else None for c in live], abs=1e-12
    )
    with pytest.raises(ValueError, match="same bins"):
        metrics.psi_of_each(spec["counts"], [[1, 2]])
