"""The demo's periodic reviews, for `make run`: the sweep schedules the models live in
production (*Retail loan default*, due twelve months after v1's approval), and `carl`
(compliance) asks for its periodic review now because of the drift in production, so the
calendar shows it in review and `rita` and `ivan` find it waiting for their attestations.

A model overdue for review needs a production version approved more than a cadence ago; a seed
made today has none, and forging approval dates would falsify the audit trail, so the demo does
not show one (the tests construct one). Runs once: a model with a periodic review is left alone.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from apps.recertification import services
from apps.recertification.models import PeriodicReview
from apps.registry.models import RegisteredModel

LOAN = "Retail loan default"


def seed(stdout: Any) -> None:
    report = services.sweep()
    stdout.write(f"  scheduled {report.scheduled} production model(s) for periodic review\n")
    model = RegisteredModel.objects.filter(name=LOAN).first()
    if model is None or PeriodicReview.objects.filter(model=model).exists():
        return
    if services.live_in_production(model) is None:
        return
    services.open_review(
        model.pk,
        actor=User.objects.get(username="carl"),
        reason="incomes drifted in production two weeks after go-live",
    )
    stdout.write(f"  carl opened a periodic review of {model}\n")
