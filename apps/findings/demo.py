"""The demo's findings, for `make run`: one in each state, and one that blocks an approval.

- *Card fraud detection* v1, waiting for ivan and rita: rita found its recall measured on too few
  fraud cases (high, owned by bob, open), so its approval is refused until she closes it;
- *Retail loan default* v1: ivan found no latency test at peak volume (medium, owned by alice),
  alice answered, and it waits for ivan to verify;
- *Retail loan default* v2: carl found its release notes did not name the training period (low,
  owned by alice), answered and closed.

Raised, answered and closed through the services, as the demo people. Runs once: a model that
already has findings is left alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.findings import services
from apps.findings.models import Finding
from apps.registry.models import ModelVersion

STORY = [
    # (model, version, raiser, owner, severity, category, title, description, remediation, closed)
    (
        "Card fraud detection",
        1,
        "rita",
        "bob",
        "high",
        "performance",
        "Recall measured on too few fraud cases",
        "The holdout holds 31 fraud cases; recall's confidence interval is wider than the "
        "alert-volume decision can bear. Measure it on at least 200.",
        "",
        False,
    ),
    (
        "Retail loan default",
        1,
        "ivan",
        "alice",
        "medium",
        "implementation",
        "No latency test at peak volume",
        "The validation measured latency on single rows only; the origination system sends "
        "batches of 500 at month end.",
        "Scored 500-row batches on the holdout: p95 38 ms, within the 100 ms policy.",
        False,
    ),
    (
        "Retail loan default",
        2,
        "carl",
        "alice",
        "low",
        "documentation",
        "Release notes do not name the training period",
        "Name the months the training data covers, for the model file.",
        "Added: applications from January 2024 to June 2026.",
        True,
    ),
]


def seed(stdout: Any) -> None:
    people = {
        u.username: u
        for u in User.objects.filter(username__in=["rita", "ivan", "carl", "alice", "bob"])
    }
    for model, number, raiser, owner, severity, category, title, about, answer, closed in STORY:
        version = ModelVersion.objects.filter(model__name=model, number=number).first()
        if version is None or Finding.objects.filter(model=version.model, title=title).exists():
            continue
        try:
            finding = services.raise_finding(
                version.pk,
                actor=people[raiser],
                title=title,
                severity=severity,
                category=category,
                description=about,
                owner=people[owner],
                due_date=timezone.localdate() + timedelta(days=21),
            )
            if answer:
                services.remediate(finding.pk, actor=people[owner], remediation=answer)
            if closed:
                services.close(finding.pk, actor=people[raiser], reason="Checked: as answered.")
        except (ValidationError, PermissionDenied) as refused:
            stdout.write(f"  note: {raiser} could not raise “{title}”: {refused}\n")
            continue
        stdout.write(f"  {raiser} raised a {severity} finding on {version}: {title}\n")
