"""Model documentation: the template every document follows, which of its sections each risk
tier requires, each version's revisions, and the files exported from them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.permissions import RestrictedQuerySet
from apps.jobs.models import Job
from apps.registry.models import ModelVersion, RegisteredModel


class Template(models.Model):
    """One version of the documentation template: its sections in order.

    ``sections`` is a list of {"key", "title", "kind", "help", "mapping"}: ``kind`` "narrative" is
    written by the model's data scientists, any other kind names a part the portal fills from its
    records (``facts.BUILDERS``). ``mapping`` gives the heading of each framework (SR 26-2/SR 11-7,
    PRA SS1/23, EU AI Act Annex IV) the section answers. An edit adds the next number; documents
    keep the template they were written with.
    """

    number = models.PositiveIntegerField(unique=True)
    sections = models.JSONField()
    note = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"documentation template v{self.number}"

    @property
    def narrative_sections(self) -> list[dict]:
        return [s for s in self.sections if s["kind"] == "narrative"]


class DocumentationPolicy(models.Model):
    """Which narrative sections a risk tier's versions must have written before review.
    Versioned like the other policies: an edit adds the next number and makes it current."""

    risk_tier = models.CharField(max_length=10, choices=RegisteredModel.RiskTier.choices)
    number = models.PositiveIntegerField()
    required = models.JSONField(default=list, help_text="Keys of narrative sections.")
    note = models.CharField(max_length=300)
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["risk_tier", "-number"]
        verbose_name_plural = "documentation policies"
        constraints = [
            models.UniqueConstraint(
                fields=["risk_tier"],
                condition=models.Q(is_current=True),
                name="one_current_documentation_policy_per_tier",
            ),
            models.UniqueConstraint(
                fields=["risk_tier", "number"], name="documentation_policy_numbers_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_risk_tier_display().lower()}-risk documentation policy v{self.number}"


class Revision(models.Model):
    """One revision of a version's documentation.

    The narrative (Markdown per section key) is edited in place while the revision is a draft.
    When the version is approved, its latest revision is frozen: ``snapshot`` keeps the whole
    rendered document (narrative and the facts of that moment) and nothing changes it again; a
    later edit starts the next revision.
    """

    permission_parent = "version"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved (frozen)"

    version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="documentation_revisions"
    )
    number = models.PositiveIntegerField()
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="revisions")
    narrative = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    snapshot = models.JSONField(null=True, blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    edited_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet["Revision"].as_manager()

    class Meta:
        ordering = ["version", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "number"], name="documentation_revision_numbers_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft", snapshot__isnull=True)
                | models.Q(status="approved", snapshot__isnull=False, frozen_at__isnull=False),
                name="frozen_revisions_have_a_snapshot",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} documentation revision {self.number}"

    @property
    def is_frozen(self) -> bool:
        return self.status == self.Status.APPROVED


class Export(models.Model):
    """One file made from a revision: the bytes kept, their SHA-256 in the audit trail."""

    permission_parent = "revision"

    class Format(models.TextChoices):
        HTML = "html", "Offline HTML"
        PDF = "pdf", "PDF"
        DOCX = "docx", "Word (.docx)"

    revision = models.ForeignKey(Revision, on_delete=models.PROTECT, related_name="exports")
    format = models.CharField(max_length=4, choices=Format.choices)
    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=200, blank=True, help_text="Where the bytes are stored.")
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet["Export"].as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_format_display()} of {self.revision}"

    @property
    def is_ready(self) -> bool:
        return bool(self.sha256)

    @property
    def download_name(self) -> str:
        version = self.revision.version
        return (
            f"{version.model.slug}-v{version.number}-documentation-r{self.revision.number}"
            f".{self.format}"
        )
