"""The demo's documentation, for `make run`.

Before the deployments demo asks for reviews (order 25): the administrator sets the demo's
documentation policies (high risk: every narrative section; medium: four; low: intended use),
alice documents *Retail loan default* v1 and v2 (v2 starts from v1's text and rewrites the
methodology), bob documents *Card fraud detection* v1 and the benchmark. The approvals of the
deployments demo then freeze loan v1's and v2's documentation. After them (order 46), alice
updates loan v1's human oversight text: revision 2, a draft beside frozen revision 1, so the
revision list and the diff have something to show. Runs once: a version with a revision is left
alone.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from apps.documentation import defaults, services
from apps.documentation.models import Revision
from apps.registry.models import ModelVersion

LOAN = "Retail loan default"
FRAUD = "Card fraud detection"
BENCHMARK = "Breast cancer benchmark"

LOAN_V1 = {
    "intended_use": (
        "Scores **consumer loan applications up to €50,000** at origination. The score is the "
        "probability of default within 12 months; the origination system declines above 0.35 "
        "and refers between 0.20 and 0.35 to an underwriter.\n\n"
        "Users: retail credit underwriters and the origination system (REST, staging and "
        "production)."
    ),
    "out_of_scope": (
        "- Business or mortgage lending\n- Limit increases on existing loans\n"
        "- Applicants under 18 or without a credit file: the model has seen none"
    ),
    "training_data": (
        "| Source | Period | Rows |\n| --- | --- | --- |\n"
        "| Origination ledger | Jan 2021 to Dec 2024 | 4,200 |\n"
        "| Credit bureau extract | same | joined on application id |\n\n"
        "Applications withdrawn before decision are excluded. Income is capped at the 99th "
        "percentile; missing employment years are imputed with the median."
    ),
    "methodology": (
        "Scaled logistic regression (scikit-learn), chosen for explainability to underwriters. "
        "Alternatives considered: gradient boosting (better AUC by 0.02, harder to explain) "
        "and a scorecard with binned features (worse calibration)."
    ),
    "assumptions": (
        "- The applicant population stays close to 2021 to 2024 (monitored by PSI)\n"
        "- Debt-to-income acts linearly on the log-odds: **not true above 0.6**, where the "
        "model under-predicts default"
    ),
    "human_oversight": (
        "Underwriters see the score and its top three drivers and may override any decision "
        "with a written reason; overrides are reviewed monthly by retail credit risk."
    ),
}
LOAN_V2_METHODOLOGY = (
    "Gradient boosting (scikit-learn `HistGradientBoostingClassifier`), to capture the "
    "non-linear effect of debt-to-income that v1 misses. Same training data and holdout as v1. "
    "Alternatives considered: v1's logistic regression with splines on debt-to-income "
    "(close, but two more parameters to govern)."
)
LOAN_V1_OVERSIGHT_UPDATE = (
    LOAN_V1["human_oversight"]
    + "\n\nFrom December 2026 overrides are also sampled quarterly by internal audit."
)
FRAUD_V1 = {
    "intended_use": (
        "Holds card payments with a high fraud score for review by the fraud operations team "
        "before authorisation."
    ),
    "training_data": "Eight thousand card transactions, labelled by chargebacks within 90 days.",
    "methodology": "Logistic regression on transaction features; threshold set with fraud "
    "operations for an alert volume their team can handle.",
    "assumptions": "Chargeback labels arrive within 90 days; fraud patterns change quickly, so "
    "drift is watched daily.",
}
BENCHMARK_V1 = {
    "intended_use": "A reference workload for the validation pipeline; never used for decisions.",
}

STEPS = [
    # (model, version, author, sections)
    (LOAN, 1, "alice", LOAN_V1),
    (LOAN, 2, "alice", {"methodology": LOAN_V2_METHODOLOGY}),
    (FRAUD, 1, "bob", FRAUD_V1),
    (BENCHMARK, 1, "bob", BENCHMARK_V1),
]


def _version(model: str, number: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(model__name=model, number=number).first()


def seed(stdout: Any) -> None:
    admin = User.objects.get(username="admin")
    for tier, required in defaults.REQUIRED.items():
        policy = services.current_policy(tier)
        if policy is None or not policy.required:
            services.update_policy(
                actor=admin,
                risk_tier=tier,
                required=required,
                note="The demo's policy: what the bank asks of each tier.",
            )
            stdout.write(f"  admin required {len(required)} sections for {tier}-risk models\n")
    for model, number, author, sections in STEPS:
        version = _version(model, number)
        if version is None or Revision.objects.filter(version=version).exists():
            continue
        services.save_narrative(
            version.pk, actor=User.objects.get(username=author), sections=sections
        )
        stdout.write(f"  {author} documented {version}\n")


def seed_after_approval(stdout: Any) -> None:
    version = _version(LOAN, 1)
    if version is None:
        return
    revisions = list(Revision.objects.filter(version=version).order_by("number"))
    if len(revisions) != 1 or not revisions[0].is_frozen:
        return
    services.save_narrative(
        version.pk,
        actor=User.objects.get(username="alice"),
        sections={"human_oversight": LOAN_V1_OVERSIGHT_UPDATE},
    )
    stdout.write(f"  alice started revision 2 of {version}'s documentation\n")
