"""The scorer answers exactly what the model's own predict and predict_proba answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from apps.deployments.serving import Scorer


def data(n: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "debt": rng.normal(10, 3, n),
            "segment": rng.choice(["retail", "sme", "private"], n),
        }
    )
    target = (frame["debt"] * 3 + rng.normal(0, 5, n) > frame["income"] * 0.6).astype(int)
    return frame, target.to_numpy()


def signature(frame: pd.DataFrame, task: str) -> dict:
    kinds = {"O": "text", "f": "numeric", "i": "numeric"}
    return {
        "task": task,
        "features": [
            {"name": name, "kind": kinds[dtype.kind], "nullable": False}
            for name, dtype in frame.dtypes.items()
        ],
    }


def columns(frame: pd.DataFrame) -> dict[str, list]:
    return frame.to_dict(orient="list")


def test_a_thresholded_pipeline_answers_its_own_predict_not_the_argmax_of_probabilities():
    frame, target = data()
    features = make_column_transformer(
        (StandardScaler(), ["income", "debt"]), (OneHotEncoder(), ["segment"])
    )
    model = make_pipeline(
        features, FixedThresholdClassifier(LogisticRegression(), threshold=0.2)
    ).fit(frame, target)
    answer = Scorer(model, signature(frame, "binary"))(columns(frame))
    assert answer["predictions"] == model.predict(frame).tolist()
    assert np.allclose(answer["probabilities"], model.predict_proba(frame), atol=1e-6)
    assert answer["classes"] == [0, 1]
    argmax = model.classes_[np.argmax(model.predict_proba(frame), axis=1)]
    assert (argmax != model.predict(frame)).any()  # the case this design exists for


def test_a_regressor_answers_predictions_only():
    frame, target = data()
    numbers = frame[["income", "debt"]]
    model = GradientBoostingRegressor(n_estimators=10).fit(numbers, target * 1.5)
    answer = Scorer(model, signature(numbers, "regression"))(columns(numbers))
    assert answer == {"predictions": model.predict(numbers).tolist()}


def test_numeric_rows_go_to_the_model_as_an_array_only_where_it_answers_the_same():
    frame, target = data()
    numbers = frame[["income", "debt"]]
    scaled = make_pipeline(StandardScaler(), LogisticRegression()).fit(numbers, target)
    scorer = Scorer(scaled, signature(numbers, "binary"))
    assert scorer.as_array
    answer = scorer(columns(numbers))
    assert answer["predictions"] == scaled.predict(numbers).tolist()
    assert np.allclose(answer["probabilities"], scaled.predict_proba(numbers), atol=1e-6)
    # Numeric too, but this pipeline picks its columns by name: it keeps its DataFrame.
    by_name = make_pipeline(
        make_column_transformer((StandardScaler(), ["debt"]), remainder="drop"),
        LogisticRegression(),
    ).fit(numbers, target)
    scorer = Scorer(by_name, signature(numbers, "binary"))
    assert not scorer.as_array
    assert scorer(columns(numbers))["predictions"] == by_name.predict(numbers).tolist()
