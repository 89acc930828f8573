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


def test_a_thresholded_pipeline_answers_its_own_predict_not_the_argmax_of_probabilities():
    frame, target = data()
    features = make_column_transformer(
        (StandardScaler(), ["income", "debt"]), (OneHotEncoder(), ["segment"])
    )
    model = make_pipeline(
        features, FixedThresholdClassifier(LogisticRegression(), threshold=0.2)
    ).fit(frame, target)
    answer = Scorer(model, "binary")(frame)
    assert answer["predictions"] == model.predict(frame).tolist()
    assert np.allclose(answer["probabilities"], model.predict_proba(frame), atol=1e-6)
    assert answer["classes"] == [0, 1]
    argmax = model.classes_[np.argmax(model.predict_proba(frame), axis=1)]
    assert (argmax != model.predict(frame)).any()  # the case this design exists for


def test_a_regressor_answers_predictions_only():
    frame, target = data()
    numbers = frame[["income", "debt"]]
    model = GradientBoostingRegressor(n_estimators=10).fit(numbers, target * 1.5)
    answer = Scorer(model, "regression")(numbers)
    assert answer == {"predictions": model.predict(numbers).tolist()}
