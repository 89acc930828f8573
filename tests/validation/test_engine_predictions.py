"""Validation measures the answers serving gives: the model's own ``predict``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.model_selection import FixedThresholdClassifier

from apps.validation.engine import report


def _holdout(seed: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    y = pd.Series((X["a"] + 0.5 * X["b"] + rng.normal(scale=0.8, size=600) > 0.4).astype(int))
    return X, y


def test_a_thresholded_classifier_is_validated_on_the_labels_it_serves() -> None:
    X, y = _holdout()
    # Says "positive" from a probability of 0.2: argmax of predict_proba would answer otherwise
    # for every row between 0.2 and 0.5.
    model = FixedThresholdClassifier(LogisticRegression(), threshold=0.2).fit(X, y)
    served = model.predict(X)
    assert (served != model.predict_proba(X).argmax(axis=1)).sum() > 50

    built = report.build(
        model,
        holdout=X.assign(target=y),
        target="target",
        reference=None,
        sensitive=None,
        champion=None,
        progress=lambda percent, step: None,
    )

    measured = built["metrics"]
    assert measured["accuracy"] == accuracy_score(y, served)
    assert measured["confusion_matrix"] == confusion_matrix(y, served).tolist()


def test_labels_outside_classes_are_refused_with_a_message() -> None:
    X, y = _holdout()

    class Confused(LogisticRegression):
        def predict(self, X):  # type: ignore[no-untyped-def]
            return np.full(len(X), 7)

    model = Confused().fit(X, y)
    scorer = report.Scorer(model, "binary", ["a", "b"], y)
    with pytest.raises(report.ValidationProblem, match="not among its classes_: 7"):
        scorer.predict(X)
