"""Findings: what a validator, a risk owner or compliance found wrong with a version, tracked to
closure by the model's team."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.permissions import RestrictedQuerySet
from apps.registry.models import ModelVersion, RegisteredModel


class Finding(models.Model):
    permission_parent = "model"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class Category(models.TextChoices):
        DATA = "data", "Data"
        METHODOLOGY = "methodology", "Methodology"
        PERFORMANCE = "performance", "Performance"
        IMPLEMENTATION = "implementation", "Implementation"
        DOCUMENTATION = "documentation", "Documentation"
        GOVERNANCE = "governance", "Governance"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        REMEDIATED = "remediated", "Remediation to verify"
        CLOSED = "closed", "Closed"

    # An open finding of these severities blocks the approval of its model's versions.
    BLOCKING = (Severity.HIGH, Severity.CRITICAL)

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="findings")
    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        related_name="findings",
        help_text="The version it was raised on; it applies to later versions until closed.",
    )
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    category = models.CharField(max_length=20, choices=Category.choices)
    description = models.TextField(help_text="Markdown.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A person of the model's team, who answers with the remediation.",
    )
    due_date = models.DateField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    raised_at = models.DateTimeField(default=timezone.now)
    remediation = models.TextField(blank=True)
    remediated_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_reason = models.TextField(blank=True, help_text="Why it was last closed or reopened.")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["model", "state"])]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} finding “{self.title}” on {self.version}"

    def get_absolute_url(self) -> str:
        return f"/findings/{self.pk}/"

    @property
    def blocks_approval(self) -> bool:
        return self.severity in self.BLOCKING and self.state != self.State.CLOSED

    @property
    def is_overdue(self) -> bool:
        return self.state != self.State.CLOSED and self.due_date < timezone.localdate()
