"""Demo models for `make run`, trained here on data made by or shipped with scikit-learn."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import Team
from apps.registry import services
from apps.registry.models import RegisteredModel

if TYPE_CHECKING:
    # At run time pandas is imported by the functions that build frames: this module is
    # imported at start-up (its seed is a demo step), and no web or serving process should pay
    # for pandas before it uses it.
    import pandas as pd


def loan_applications(n: int, seed: int) -> pd.DataFrame:
    """Synthetic consumer-loan applications whose default risk follows plausible drivers."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(21, 75, n),
            "annual_income": np.round(rng.lognormal(10.6, 0.45, n), -2),
            "loan_amount": np.round(rng.uniform(1_000, 50_000, n), -2),
            "credit_score": np.clip(rng.normal(680, 70, n), 300, 850).round(),
            "years_employed": rng.integers(0, 40, n),
            "open_accounts": rng.poisson(4, n),
            "late_payments_12m": rng.poisson(0.4, n),
        }
    )
    frame["debt_to_income"] = np.round(
        (frame["loan_amount"] / frame["annual_income"]) + rng.uniform(0, 0.3, n), 3
    )
    logit = (
        -2.0
        + 2.2 * (frame["debt_to_income"] - 0.5)
        - 0.012 * (frame["credit_score"] - 680)
        + 0.55 * frame["late_payments_12m"]
        - 0.03 * frame["years_employed"]
        + rng.normal(0, 0.6, n)
    )
    frame["default"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    # Not a feature: the group fairness is measured across.
    frame["age_band"] = pd.cut(
        frame["age"], [0, 30, 45, 60, 120], labels=["under 30", "30-44", "45-59", "60+"]
    ).astype(str)
    return frame


def card_transactions(n: int, seed: int) -> pd.DataFrame:
    """Synthetic card transactions, about 3% fraudulent."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": np.round(rng.lognormal(3.6, 1.1, n), 2),
            "hour": rng.integers(0, 24, n),
            "merchant_risk": np.round(rng.beta(2, 8, n), 3),
            "distance_from_home_km": np.round(rng.exponential(15, n), 1),
            "transactions_24h": rng.poisson(3, n),
            "card_present": rng.integers(0, 2, n),
            "foreign": (rng.uniform(size=n) < 0.08).astype(int),
        }
    )
    logit = (
        -5.2
        + 4.0 * frame["merchant_risk"]
        + 0.02 * frame["distance_from_home_km"]
        + 1.3 * frame["foreign"]
        - 1.1 * frame["card_present"]
        + 0.25 * frame["transactions_24h"]
        + 0.9 * ((frame["hour"] < 5) | (frame["hour"] > 22))
    )
    frame["is_fraud"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame: pd.DataFrame = bunch.frame
    return frame.rename(columns=lambda c: c.replace(" ", "_"))


def _logistic() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _boosting() -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(n_estimators=120, max_depth=3, random_state=0)


def _forest() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=120, max_depth=8, random_state=0, n_jobs=1)


@dataclass(frozen=True)
class DemoModel:
    name: str
    team: str
    owner: str
    use_case: str
    description: str
    risk_tier: str
    tags: tuple[str, ...]
    target: str
    data: Callable[[], pd.DataFrame]
    versions: tuple[tuple[Callable[[], Any], str], ...]
    sensitive: str = ""


DEMO_MODELS = [
    DemoModel(
        "Retail loan default",
        "retail-credit",
        "alice",
        "Decline or refer consumer loan applications up to €50,000",
        "Probability that an applicant defaults within 12 months of the loan being granted.",
        "high",
        ("credit", "retail"),
        "default",
        lambda: loan_applications(6000, seed=7),
        (
            (_logistic, "Baseline: scaled logistic regression."),
            (_boosting, "Gradient boosting; captures the non-linear effect of debt-to-income."),
            (_forest, "Random forest challenger, shallower trees for stability."),
        ),
        sensitive="age_band",
    ),
    DemoModel(
        "Card fraud detection",
        "fraud",
        "bob",
        "Hold card payments for review before authorisation",
        "Scores each card transaction for fraud in real time.",
        "medium",
        ("fraud", "cards", "real-time"),
        "is_fraud",
        lambda: card_transactions(8000, seed=11),
        (
            (_logistic, "First model: logistic regression on transaction features."),
            (_boosting, "Gradient boosting; better recall at the same alert volume."),
        ),
    ),
    DemoModel(
        "Breast cancer benchmark",
        "fraud",
        "bob",
        "Benchmark of the validation pipeline on scikit-learn's bundled data",
        "A classifier on the Wisconsin breast-cancer data set, kept as a reference workload.",
        "low",
        ("benchmark",),
        "target",
        breast_cancer,
        (
            (_logistic, "Logistic regression baseline."),
            (_forest, "Random forest."),
        ),
    ),
]


def _csv(frame: pd.DataFrame, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, frame.to_csv(index=False).encode())


def _skops(estimator: Any) -> SimpleUploadedFile:
    import skops.io

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.skops"
        skops.io.dump(estimator, path)
        return SimpleUploadedFile("model.skops", path.read_bytes())


def seed(stdout: io.TextIOBase | Any) -> None:
    """Register the demo models and upload their versions, unless they already exist."""
    for demo in DEMO_MODELS:
        if RegisteredModel.objects.filter(name=demo.name).exists():
            continue
        owner = User.objects.get(username=demo.owner)
        model = services.register_model(
            actor=owner,
            name=demo.name,
            use_case=demo.use_case,
            team=Team.objects.get(slug=demo.team),
            risk_tier=demo.risk_tier,
            risk_owner=User.objects.get(username="rita"),
            description=demo.description,
            tags=demo.tags,
        )
        frame = demo.data()
        split = int(len(frame) * 0.7)
        train, holdout = frame.iloc[:split], frame.iloc[split:]
        features = [c for c in frame.columns if c not in (demo.target, demo.sensitive)]
        for make_estimator, notes in demo.versions:
            estimator = make_estimator().fit(train[features], train[demo.target])
            services.upload_version(
                model.pk,
                actor=owner,
                artifact=_skops(estimator),
                holdout=_csv(holdout, "holdout.csv"),
                target_column=demo.target,
                reference=_csv(train.sample(min(len(train), 2000), random_state=0), "train.csv"),
                sensitive_column=demo.sensitive,
                notes=notes,
            )
        stdout.write(f"  registered {model.name} with {len(demo.versions)} versions\n")
