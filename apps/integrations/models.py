"""MLflow interop: the servers the portal may read from, the links between portal models and
MLflow registered models, and each import with the provenance it brought along."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.accounts.models import Team
from apps.core.permissions import RestrictedQuerySet
from apps.jobs.models import Job
from apps.registry.models import ModelVersion, RegisteredModel


class MlflowConnection(models.Model):
    """An MLflow tracking server, configured by administrators in the Django admin.

    The secret (a bearer token, or the password of basic authentication) is written only by the
    admin form and read only by the MLflow client: it never appears on a page, in the audit
    trail, in a log line or in an API answer. Requests go through the SSRF guard
    (``apps.core.outbound``) with the webhooks' host allowlist.
    """

    class Auth(models.TextChoices):
        NONE = "none", "No authentication"
        TOKEN = "token", "Bearer token"
        BASIC = "basic", "User name and password (basic authentication)"

    name = models.CharField(max_length=100, unique=True)
    tracking_url = models.URLField(
        "tracking URL",
        max_length=500,
        help_text="The MLflow server's address, e.g. https://mlflow.internal.bank. An internal "
        "host must be listed under Allowed webhook hosts (the same SSRF guard as webhooks).",
    )
    auth = models.CharField(max_length=10, choices=Auth.choices, default=Auth.NONE)
    username = models.CharField(max_length=150, blank=True, help_text="For basic authentication.")
    secret = models.CharField(max_length=500, blank=True, editable=False)
    # The secret MLflow signs its webhook deliveries with (HMAC-SHA256): kept like ``secret``.
    webhook_secret = models.CharField(max_length=200, blank=True, editable=False)
    send_tags = models.BooleanField(
        "tell MLflow the outcome",
        default=False,
        help_text="Set portal.status and portal.live_in tags on imported MLflow versions when "
        "they are approved, deployed or rolled back. The connection's credentials must be "
        "allowed to edit the MLflow model.",
    )
    teams = models.ManyToManyField(
        Team, blank=True, related_name="mlflow_connections", help_text="Teams that may import."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "MLflow connection"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never the secret, even in a traceback's locals
        return f"<MlflowConnection {self.pk} {self.name!r}>"

    @property
    def secret_is_set(self) -> bool:
        return bool(self.secret)


class MlflowLink(models.Model):
    """A portal model linked to one MLflow registered model on one connection."""

    permission_parent = "model"

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="mlflow")
    connection = models.ForeignKey(MlflowConnection, on_delete=models.PROTECT, related_name="links")
    mlflow_name = models.CharField("MLflow model name", max_length=256)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Automatic import (webhooks, polling): off until someone who may import turns it on; the
    # imports are then requested on that person's behalf, with the holdout kept here.
    on_version_created = models.BooleanField("import each new MLflow version", default=False)
    on_alias = models.CharField(
        "import when this alias is set", max_length=256, blank=True, help_text="e.g. candidate"
    )
    automatic_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    automatic_since = models.DateTimeField(null=True, blank=True)
    holdout_key = models.CharField(max_length=200, blank=True)
    holdout_name = models.CharField(max_length=255, blank=True)
    holdout_sha256 = models.CharField(max_length=64, blank=True)
    # Or, instead of a kept file, the path of a data set each imported version's run logged.
    holdout_artifact = models.CharField("holdout artifact of each run", max_length=1000, blank=True)
    target_column = models.CharField(max_length=200, blank=True)
    sensitive_column = models.CharField(max_length=200, blank=True)
    # What polling has seen: the highest version number, and where the alias pointed.
    polled_version = models.PositiveIntegerField(default=0)
    polled_alias_version = models.CharField(max_length=20, blank=True)

    objects = RestrictedQuerySet["MlflowLink"].as_manager()

    class Meta:
        verbose_name = "MLflow link"

    def __str__(self) -> str:
        return f"{self.model} ↔ {self.connection}: {self.mlflow_name}"

    @property
    def is_automatic(self) -> bool:
        return bool(self.automatic_by_id and (self.on_version_created or self.on_alias))

    @property
    def has_holdout(self) -> bool:
        """Whether automatic imports have a holdout: a kept file, or a run artifact's path."""
        return bool(self.holdout_key or self.holdout_artifact)


class MlflowImport(models.Model):
    """One import of an MLflow model version: its state, and once done, its provenance.

    The provenance is what MLflow said when the version was imported (run, experiment, params,
    metrics, tags): a record of origin, never evidence for a policy check; the portal's own
    validation of the imported version decides.
    """

    permission_parent = "model"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        IMPORTED = "imported", "Imported"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        PERSON = "person", "Asked by a person"
        WEBHOOK = "webhook", "MLflow webhook"
        POLL = "poll", "Polling MLflow"

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="imports")
    version = models.OneToOneField(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mlflow_import",
    )
    job = models.OneToOneField(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connection = models.ForeignKey(
        MlflowConnection, on_delete=models.PROTECT, related_name="imports"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    reference = models.CharField(max_length=600, help_text="As requested: models:/name/7, @alias.")
    mlflow_name = models.CharField("MLflow model name", max_length=256)
    mlflow_version = models.CharField("MLflow version", max_length=20, blank=True)
    aliases = models.JSONField(default=list, blank=True)
    source = models.CharField("MLflow source", max_length=1000, blank=True)
    run_id = models.CharField(max_length=64, blank=True)
    experiment_id = models.CharField(max_length=64, blank=True)
    experiment_name = models.CharField(max_length=500, blank=True)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    git_commit = models.CharField(max_length=100, blank=True)
    original_format = models.CharField(max_length=20, blank=True)
    original_sha256 = models.CharField("original SHA-256", max_length=64, blank=True)
    original_size = models.PositiveBigIntegerField(null=True, blank=True)
    # The holdout sent with the request, stored under a generated key until the job hands it to
    # the upload path (which stores its own copy); removed when the import ends either way.
    holdout_key = models.CharField(max_length=200, blank=True)
    holdout_name = models.CharField(max_length=255, blank=True)
    holdout_sha256 = models.CharField(max_length=64, blank=True)
    # Or the holdout is a data set the version's run logged, at this path under the run's
    # artifacts: the job downloads it (name and SHA-256 above are then the artifact's).
    holdout_artifact = models.CharField("holdout artifact of the run", max_length=1000, blank=True)
    target_column = models.CharField(max_length=200)
    sensitive_column = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.PERSON)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)

    objects = RestrictedQuerySet["MlflowImport"].as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = "MLflow import"
        constraints = [
            # An automatic import of one MLflow version happens once per model, whether the
            # webhook or the poller saw it first (a failed one may be tried again).
            models.UniqueConstraint(
                fields=["model", "connection", "mlflow_name", "mlflow_version"],
                condition=~models.Q(trigger="person") & ~models.Q(state="failed"),
                name="integrations_automatic_import_once",
            )
        ]

    def __str__(self) -> str:
        shown = self.mlflow_version or self.reference
        return f"import of {self.mlflow_name} {shown} into {self.model}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.IMPORTED, self.State.FAILED)


class MlflowDelivery(models.Model):
    """A webhook delivery MLflow sent to the portal, kept by id so that a replay is refused.
    Rows older than the accepted clock window are pruned: a delivery that old is refused by its
    timestamp anyway."""

    connection = models.ForeignKey(
        MlflowConnection, on_delete=models.CASCADE, related_name="deliveries"
    )
    delivery_id = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "MLflow webhook delivery"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "delivery_id"], name="integrations_delivery_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} delivery {self.delivery_id}"
