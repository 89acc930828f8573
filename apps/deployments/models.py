from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.accounts.models import HashedSecret
from apps.core.permissions import RestrictedQuerySet
from apps.jobs.models import Job
from apps.registry.models import ModelVersion, RegisteredModel

SERVING_KEY_PREFIX = "mls_"


class Environment(models.Model):
    """Where models run (staging, production), and the rule for promoting into it."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField(default=0, help_text="Position in lists.")
    requires_live_in = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A version must have been live here before it may deploy to this environment.",
    )
    is_production = models.BooleanField(
        default=False,
        help_text="The version live here is the model's champion, which validation compares "
        "new versions with.",
    )

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self) -> str:
        return self.name


class Deployment(models.Model):
    """One attempt to make a version live in an environment, and how long it stayed live.

    The history of these rows answers "which version was live in production on 3 March?".
    """

    permission_parent = "model"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Deploying"
        LIVE = "live", "Live"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded"
        ROLLED_BACK = "rolled_back", "Rolled back"
        UNDEPLOYED = "undeployed", "Undeployed"
        STOPPED = "stopped", "Stopped"  # a challenger, ended without taking over
        PROMOTED = "promoted", "Promoted"  # a challenger that became the live version

    class Kind(models.TextChoices):
        DEPLOY = "deploy", "Deploy"
        ROLLBACK = "rollback", "Rollback"
        PROMOTION = "promotion", "Promotion"

    class Mode(models.TextChoices):
        """How the deployment serves: the live version answers every request it is given; a
        challenger runs beside it, in shadow (scores the same rows, never answers) or as a
        canary (answers a share of the requests)."""

        CHAMPION = "champion", "Live version"
        SHADOW = "shadow", "Shadow challenger"
        CANARY = "canary", "Canary challenger"

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="deployments")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="deployments")
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deployments"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DEPLOY)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.CHAMPION)
    traffic = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="A canary's share of the requests, in percent."
    )
    challenged = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="challengers",
        help_text="The live version a challenger ran beside.",
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    job = models.OneToOneField(
        Job, null=True, blank=True, on_delete=models.PROTECT, related_name="deployment"
    )
    replaced = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The deployment that was live before this one.",
    )
    # Who signed the version off, frozen at the moment it was deployed: the approvals that
    # allowed this switch.
    approvals = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    live_from = models.DateTimeField(null=True, blank=True, db_index=True)
    live_until = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["environment", "model", "live_from"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(mode="canary", traffic__gte=1, traffic__lte=50)
                | (~models.Q(mode="canary") & models.Q(traffic__isnull=True)),
                name="canary_share_1_to_50",
            )
        ]

    def __str__(self) -> str:
        return f"{self.version} to {self.environment}"

    @property
    def is_challenger(self) -> bool:
        return self.mode != self.Mode.CHAMPION

    def mode_label(self) -> str:
        """The mode in words, with a canary's share: "canary challenger, 10 % of requests"."""
        if self.mode == self.Mode.CANARY:
            return f"canary challenger, {self.traffic} % of requests"
        return str(self.get_mode_display()).lower()


class Placement(models.Model):
    """The version live for a model in an environment: the pointer serving reads.

    Changed only by the deployment services, in the transaction that changes the deployments.
    """

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="placements")
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="placements"
    )
    deployment = models.OneToOneField(Deployment, on_delete=models.PROTECT, related_name="+")
    # At most one challenger beside the live version: the rule is this one column.
    challenger = models.OneToOneField(
        Deployment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    switched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "environment"], name="one_live_version_per_environment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model} in {self.environment}"


class ServingKey(HashedSecret, models.Model):  # noqa: DJ008 - __str__ from HashedSecret
    """A key that lets a client call one model's endpoint in one environment. Stored hashed."""

    PREFIX = SERVING_KEY_PREFIX

    permission_parent = "model"

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="+")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]


class PredictionLog(models.Model):
    """One prediction request as served: written in batches by the serving processes."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="+")
    request_id = models.CharField(max_length=64, db_index=True)
    received_at = models.DateTimeField(db_index=True)
    latency_ms = models.FloatField()
    rows = models.PositiveIntegerField()
    inputs = models.JSONField()
    outputs = models.JSONField()

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.request_id} ({self.rows} rows)"


class Feedback(models.Model):
    """The true outcome of a served prediction, reported later, for performance monitoring."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="+")
    request_id = models.CharField(max_length=64, db_index=True)
    outcomes = models.JSONField(help_text="One true outcome per row of the request.")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"feedback for {self.request_id}"


class PredictionLogLoss(models.Model):
    """Prediction records a serving process could not write, counted rather than lost silently:
    shown on the deployment's version page."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="+")
    lost = models.PositiveIntegerField()
    reason = models.CharField(max_length=300)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        return f"{self.lost} lost: {self.reason}"


class RefusedRequests(models.Model):
    """Requests to a live deployment answered with an error, counted by status per five minutes
    by the serving processes (their bodies are not kept); folded into monitoring's buckets."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(help_text="The start of the five minutes counted.")
    status = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.count} answered {self.status}"
