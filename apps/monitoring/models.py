"""Rollups of what serving logged: the only thing monitoring's charts and pages read."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.permissions import RestrictedQuerySet
from apps.deployments.models import Deployment
from apps.registry.models import RegisteredModel


class RollupCursor(models.Model):
    """How far the rollup has folded a source table, by id.

    Ids are handed out when a row is inserted but become visible when its transaction commits,
    so a row with a lower id can appear after higher ones were folded. Ids missing below the
    watermark are kept as ``gaps`` ([first, last, first seen as a Unix time]) and looked for again
    on every run, until they are older than the rollup's patience (then they were never
    committed: a rolled-back batch).
    """

    source = models.CharField(max_length=40, unique=True)
    watermark = models.BigIntegerField(default=0)
    gaps = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.source} folded to {self.watermark}"


class Bucket(models.Model):
    """What one deployment served in one time bucket: counts, a latency histogram, and live
    values counted into the bins of the version's validation baseline."""

    class Span(models.IntegerChoices):
        FIVE_MINUTES = 300, "5 minutes"
        HOUR = 3600, "1 hour"
        DAY = 86400, "1 day"

    permission_parent = "deployment"

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="+")
    span = models.PositiveIntegerField(choices=Span.choices)
    start = models.DateTimeField()
    requests = models.PositiveBigIntegerField(default=0)
    rows = models.PositiveBigIntegerField(default=0)
    latency_ms_sum = models.FloatField(default=0.0)
    # Requests per latency bin (``rollup.LATENCY_EDGES_MS``), then those slower than the last.
    latency_counts = models.JSONField(default=list)
    # Rows per baseline bin, per feature, and of the model's score; empty without a baseline.
    feature_counts = models.JSONField(default=dict)
    score_counts = models.JSONField(default=list)
    # Counts from the outcomes of this bucket's predictions (``performance.py``); empty until
    # feedback comes.
    performance = models.JSONField(default=dict)
    # Requests to the deployment answered with an error, by status ("422": 3); bodies not kept.
    refused = models.JSONField(default=dict)
    # A binary classifier's scores, for performance estimated before outcomes come
    # (``estimate.py``): rows, expected correct answers, and per score bin Σp and Σ(1 - p).
    expected = models.JSONField(default=dict)
    # Figures read off the counts above, kept with them so that a chart reads them instead of
    # every bin (``rollup.derive``): each feature's and the score's PSI against the baseline,
    # and the estimated accuracy and ROC AUC.
    derived = models.JSONField(default=dict)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "span", "start"], name="one_bucket_per_deployment_span"
            )
        ]
        indexes = [models.Index(fields=["span", "start"])]

    def __str__(self) -> str:
        return f"{self.deployment_id} {self.get_span_display()} from {self.start:%Y-%m-%d %H:%M}"


class Health(models.Model):
    """How one live deployment is doing over the last 24 hours, as the last evaluation found it:
    what the portfolio lists, filters and sorts without reading a bucket."""

    class State(models.TextChoices):
        # In the order the portfolio sorts by: what needs attention first.
        ALERT = "alert", "Alert"
        WARNING = "warning", "Warning"
        NO_TRAFFIC = "no_traffic", "No traffic"
        WAITING = "waiting", "Waiting for data"
        HEALTHY = "healthy", "Healthy"

    permission_parent = "deployment"

    deployment = models.OneToOneField(Deployment, on_delete=models.CASCADE, related_name="health")
    state = models.CharField(max_length=12, choices=State.choices)
    rank = models.PositiveSmallIntegerField(
        help_text="The state's place in State: sorts worst first."
    )
    reason = models.CharField(max_length=300, blank=True)
    evaluated_at = models.DateTimeField()
    requests = models.PositiveBigIntegerField(default=0)
    rows = models.PositiveBigIntegerField(default=0)
    last_request_at = models.DateTimeField(
        null=True, blank=True, help_text="The start of the last 5 minutes with a request."
    )
    latency_p95_ms = models.FloatField(null=True, blank=True)
    drifted_feature = models.CharField(max_length=200, blank=True)
    drifted_psi = models.FloatField(null=True, blank=True)
    score_psi = models.FloatField(null=True, blank=True)
    refused = models.PositiveBigIntegerField(default=0)
    error_rate = models.FloatField(
        null=True, blank=True, help_text="Refused and failed requests over all requests."
    )
    # The primary metric measured from outcomes over ``health.PERFORMANCE_WINDOW``, next to its
    # value at validation, and the share of rows with an outcome.
    performance_metric = models.CharField(max_length=20, blank=True)
    performance = models.FloatField(null=True, blank=True)
    validated = models.FloatField(null=True, blank=True)
    labelled_share = models.FloatField(null=True, blank=True)
    labelled = models.PositiveBigIntegerField(default=0)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "health"
        indexes = [models.Index(fields=["rank"])]

    def __str__(self) -> str:
        return f"{self.deployment_id}: {self.state}"

    @property
    def error_percent(self) -> float | None:
        return None if self.error_rate is None else 100 * self.error_rate


class Alert(models.Model):
    """A check of a live deployment that breached: raised once per breach by the evaluation,
    acknowledged and resolved by people with a reason, or resolved by the evaluation once the
    figure has been back within bounds for a whole window."""

    class Level(models.TextChoices):
        WARNING = "warning", "Warning"
        ALERT = "alert", "Alert"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    permission_parent = "deployment"

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="+")
    check_name = models.CharField(max_length=220, help_text="What breached: drift:<feature>, …")
    level = models.CharField(max_length=10, choices=Level.choices)
    state = models.CharField(max_length=14, choices=State.choices, default=State.OPEN)
    message = models.CharField(max_length=400)
    value = models.FloatField(null=True, blank=True)
    levels = models.CharField(
        max_length=200, help_text="The levels it was judged by (until policies are versioned)."
    )
    opened_at = models.DateTimeField(default=timezone.now)
    last_breach_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One unresolved alert per check of a deployment: a breach raises once.
            models.UniqueConstraint(
                fields=["deployment", "check_name"],
                condition=~models.Q(state="resolved"),
                name="one_unresolved_alert_per_check",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()}: {self.message}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("monitoring:deployment", args=[self.deployment_id]) + "#alerts"


class MonitoringPolicy(models.Model):
    """The levels a risk tier's live models are judged by, or one model's own levels where its
    use needs other ones (``model`` set: they replace the tier's for that model). Versioned like
    validation policies: an edit adds the next number and makes it current, and every alert names
    the version."""

    risk_tier = models.CharField(max_length=10, choices=RegisteredModel.RiskTier.choices)
    model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    number = models.PositiveIntegerField()
    levels = models.JSONField(default=dict)
    note = models.CharField(max_length=300)
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["risk_tier", "-number"]
        verbose_name_plural = "monitoring policies"
        constraints = [
            models.UniqueConstraint(
                fields=["risk_tier"],
                condition=models.Q(is_current=True, model__isnull=True),
                name="one_current_monitoring_policy_per_tier",
            ),
            models.UniqueConstraint(
                fields=["risk_tier", "number"],
                condition=models.Q(model__isnull=True),
                name="one_monitoring_policy_number_per_tier",
            ),
            models.UniqueConstraint(
                fields=["model"],
                condition=models.Q(is_current=True, model__isnull=False),
                name="one_current_monitoring_policy_per_model",
            ),
            models.UniqueConstraint(
                fields=["model", "number"],
                condition=models.Q(model__isnull=False),
                name="one_monitoring_policy_number_per_model",
            ),
        ]

    def __str__(self) -> str:
        if self.model is not None:
            return f"{self.model.name} monitoring policy v{self.number}"
        return f"{self.risk_tier} risk monitoring policy v{self.number}"


class MonitoringReview(models.Model):
    """The decision an alert on a production model of high or medium risk calls for: accept for
    now (until a date), ask the team for a new version, or roll back. Made once, with a reason,
    by the model's risk owner or model operations, never by the version's author."""

    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept for now"
        NEW_VERSION = "new_version", "Request a new version"
        ROLLBACK = "rollback", "Roll back"

    permission_parent = "deployment"

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="+")
    alert = models.OneToOneField(Alert, on_delete=models.PROTECT, related_name="review")
    opened_at = models.DateTimeField(default=timezone.now)
    decision = models.CharField(max_length=12, choices=Decision.choices, blank=True)
    reason = models.TextField(blank=True)
    look_again_on = models.DateField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return f"monitoring review of {self.alert}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("monitoring:deployment", args=[self.deployment_id]) + "#review"

    @property
    def is_open(self) -> bool:
        return not self.decision
