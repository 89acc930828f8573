from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from apps.accounts.models import Team
from apps.core.permissions import RestrictedQuerySet


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RegisteredModel(models.Model):
    """A model in the inventory: what it is for, who owns it, and how risky it is.

    Visibility is per object (django-guardian): the owning team may view, change and share it; its
    risk owner and compliance may view it; others only when it is shared with them. Model
    operations hold ``operate_registeredmodel`` from the model's first review request: it shows
    them the model and what hangs on it (deployments, keys), but of its versions only those
    submitted for review (``ModelVersion.limited_parent_grant``).
    """

    # Holding any of these object permissions lets a person view the model itself.
    view_also_granted_by = ("operate_registeredmodel",)

    class RiskTier(models.TextChoices):
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    slug = models.SlugField(max_length=80, unique=True, help_text="Set once; never changes.")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    use_case = models.CharField("business use case", max_length=200)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="models")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_models"
    )
    risk_tier = models.CharField(max_length=10, choices=RiskTier.choices)
    risk_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="risk_owned_models"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="models")
    pickle_allowed = models.BooleanField(
        default=False,
        help_text="Accept .joblib and .pkl artifacts (opened only inside the validation sandbox). "
        "Only administrators can change this.",
    )
    latest_version = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The latest version submitted for review: what model operations, who see only submitted
    # versions, are shown as the model's latest. Kept by the review request.
    latest_submitted = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The version live in production: validation compares new versions with it. Kept by the
    # deployment service when production switches.
    champion = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept by the upload service under the model's row lock, so that the inventory needs no
    # COUNT over every visible model's versions to show and sort by it.
    version_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet["RegisteredModel"].as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "model"
        constraints = [models.UniqueConstraint(Lower("name"), name="registeredmodel_unique_name")]
        permissions = [
            ("share_registeredmodel", "Can share the model with others"),
            (
                "operate_registeredmodel",
                "Can view the model and its versions submitted for review (model operations)",
            ),
            (
                "administer_registeredmodel",
                "Can register models for any team and allow pickle artifacts (administrators)",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("registry:model-detail", args=[self.slug])

    @property
    def shown_version(self) -> ShownVersion | None:
        """The latest version the viewer may see, on rows from ``filters.inventory``."""
        number = getattr(self, "shown_version_number", None)
        if number is None:
            return None
        status = self.shown_version_status  # type: ignore[attr-defined]
        return ShownVersion(number, status, ModelVersion.Status(status).label)


@dataclass(frozen=True)
class ShownVersion:
    number: int
    status: str
    label: str


class RegisteredModelUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign-key permission table: fast scoping of the inventory (guardian's guide)."""

    content_object = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE)


class RegisteredModelGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE)


class ModelVersion(models.Model):
    """One uploaded version of a model: its artifact, holdout data and where it is in its life."""

    permission_parent = "model"
    # Model operations see a version from its review request on: the team's unsubmitted work
    # (drafts, failed versions, their files, reports and comments) stays the team's.
    limited_parent_grant = ("operate_registeredmodel", models.Q(submitted_at__isnull=False))

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        VALIDATING = "validating", "Validating"
        VALIDATED = "validated", "Validated"
        VALIDATION_FAILED = "validation_failed", "Validation failed"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        RETIRED = "retired", "Retired"

    class ArtifactFormat(models.TextChoices):
        SKOPS = "skops", "skops"
        JOBLIB = "joblib", "joblib (pickle)"
        PICKLE = "pickle", "pickle"

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    artifact_format = models.CharField(max_length=10, choices=ArtifactFormat.choices)
    target_column = models.CharField(max_length=200)
    sensitive_column = models.CharField(
        max_length=200,
        blank=True,
        help_text="A holdout column (e.g. age band) to measure fairness across; optional.",
    )
    notes = models.TextField("release notes", blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="uploaded_versions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by the review request; from then on model operations may see the version.
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet["ModelVersion"].as_manager()

    class Meta:
        ordering = ["model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="modelversion_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.model} v{self.number}"

    def get_absolute_url(self) -> str:
        return reverse("registry:version-detail", args=[self.model.slug, self.number])


class StoredFile(models.Model):
    """A file of a version, stored under a key the server generated.

    The uploader's file name is kept for display only; it never becomes a path.
    """

    permission_parent = "version"

    class Role(models.TextChoices):
        ARTIFACT = "artifact", "Model artifact"
        HOLDOUT = "holdout", "Holdout data"
        REFERENCE = "reference", "Reference sample"
        CANONICAL = "canonical", "Canonical .skops copy"

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="files")
    role = models.CharField(max_length=20, choices=Role.choices)
    key = models.CharField(max_length=200, unique=True)
    original_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=20)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    # What the upload check learned of a data set: its columns and row count.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet["StoredFile"].as_manager()

    class Meta:
        ordering = ["version", "role"]
        constraints = [
            models.UniqueConstraint(fields=["version", "role"], name="storedfile_one_per_role")
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.role}"

    @property
    def download_name(self) -> str:
        extension = {"pickle": "pkl"}.get(self.file_format, self.file_format)
        return f"{self.version.model.slug}-v{self.version.number}-{self.role}.{extension}"
