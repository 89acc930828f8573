"""Periodic review: how often a live model is re-certified, when each is next due and why, and
the reviews in which its risk owner and model operations attest that it is still fit."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.permissions import RestrictedQuerySet
from apps.registry.models import ModelVersion, RegisteredModel


class Cadence(models.Model):
    """How many months a risk tier's (or one model's) production models may go between periodic
    reviews, and how long an alert may stay accepted before it brings the review forward.
    Versioned like the other policies: an edit adds the next number and makes it current."""

    risk_tier = models.CharField(max_length=10, choices=RegisteredModel.RiskTier.choices)
    model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    number = models.PositiveIntegerField()
    months = models.PositiveSmallIntegerField()
    accepted_alert_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="An alert acknowledged but not resolved for longer brings the review forward.",
    )
    note = models.CharField(max_length=300)
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["risk_tier", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["risk_tier"],
                condition=models.Q(is_current=True, model__isnull=True),
                name="one_current_cadence_per_tier",
            ),
            models.UniqueConstraint(
                fields=["model"],
                condition=models.Q(is_current=True, model__isnull=False),
                name="one_current_cadence_per_model",
            ),
            models.CheckConstraint(
                condition=models.Q(months__gte=1), name="cadence_months_positive"
            ),
        ]

    def __str__(self) -> str:
        scope = f"{self.model}" if self.model_id else f"{self.get_risk_tier_display().lower()}-risk"
        return f"{scope} review cadence v{self.number}"


class Schedule(models.Model):
    """When a model with a version live in production is next due, kept by ``services.sweep``.

    ``due_on`` is ``basis_on`` plus the cadence, or earlier when a trigger (``triggers``) brought
    it forward. ``reminded`` lists the reminders already sent for this ``due_on`` (30, 7, 0 days
    and "overdue"), so that each is sent once.
    """

    permission_parent = "model"

    model = models.OneToOneField(
        RegisteredModel, on_delete=models.CASCADE, related_name="review_schedule"
    )
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    basis = models.CharField(max_length=200, help_text="What the next date is counted from.")
    basis_on = models.DateField()
    cadence = models.ForeignKey(Cadence, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField(db_index=True)
    triggers = models.JSONField(default=list, blank=True)
    reminded = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet["Schedule"].as_manager()

    class Meta:
        ordering = ["due_on", "model__name"]

    def __str__(self) -> str:
        return f"{self.model} due {self.due_on}"


class PeriodicReview(models.Model):
    """One re-certification of the version live in production."""

    permission_parent = "model"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RECERTIFIED = "recertified", "Re-certified"
        WITH_FINDINGS = "recertified_with_findings", "Re-certified with findings"
        REPLACE = "replace", "To be replaced"

    model = models.ForeignKey(
        RegisteredModel, on_delete=models.PROTECT, related_name="periodic_reviews"
    )
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    reason = models.CharField(max_length=300, help_text="Why it was opened: due, or a trigger.")
    due_on = models.DateField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    next_due_on = models.DateField(null=True, blank=True)
    replace_by = models.DateField(
        null=True, blank=True, help_text="The deadline for a new version, when it is replaced."
    )
    evidence = models.JSONField(
        default=dict, blank=True, help_text="The evidence pack as it stood when the review closed."
    )

    objects = RestrictedQuerySet["PeriodicReview"].as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["model"],
                condition=models.Q(status="open"),
                name="one_open_periodic_review_per_model",
            ),
            models.UniqueConstraint(
                fields=["model", "number"], name="periodic_review_numbers_unique"
            ),
        ]
        permissions = [("request_periodicreview", "Can ask for a periodic review at any time")]

    def __str__(self) -> str:
        return f"periodic review {self.number} of {self.model}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("recertification:review", args=[self.pk])


class Attestation(models.Model):
    """A risk owner's or model operations' statement in a periodic review."""

    permission_parent = "review"

    class Role(models.TextChoices):
        RISK_OWNER = "risk_owner", "Risk owner: still fit for purpose"
        MODEL_OPS = "model_ops", "Model operations: technically sound"

    class Outcome(models.TextChoices):
        RECERTIFY = "recertify", "Re-certify"
        WITH_FINDINGS = "recertify_with_findings", "Re-certify with findings"
        REPLACE = "replace", "Replace: ask the team for a new version"

    review = models.ForeignKey(
        PeriodicReview, on_delete=models.PROTECT, related_name="attestations"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=30, choices=Outcome.choices)
    statement = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet["Attestation"].as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "role"], name="one_attestation_per_role"),
            models.UniqueConstraint(fields=["review", "person"], name="one_attestation_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} by {self.person} on {self.review}"
