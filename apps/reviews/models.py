from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.accounts.models import Team
from apps.core.permissions import RestrictedQuerySet
from apps.core.templatetags.words import role_title
from apps.registry.models import ModelVersion, RegisteredModel

# The roles whose sign-off a review policy can require, in the order reviewers usually act.
SIGN_OFF_ROLES = ["model_ops", "risk_owner"]


class ReviewPolicy(models.Model):
    """Which sign-offs a version of a risk tier needs, and whether failed validation may go on.

    Versioned like validation policies: an edit is a new current row; reviews keep theirs.
    """

    risk_tier = models.CharField(max_length=10, choices=RegisteredModel.RiskTier.choices)
    number = models.PositiveIntegerField()
    # {"model_ops": 1, "risk_owner": 1}: how many sign-offs of each role.
    required = models.JSONField(default=dict)
    allow_exceptions = models.BooleanField(
        default=False,
        help_text="A version that failed validation may go to review with a written "
        "justification, flagged to reviewers and compliance.",
    )
    independent = models.BooleanField(
        default=True,
        help_text="Sign-offs and deployments come from outside the model's owning team: a team "
        "member gives neither the IT nor the risk sign-off, whatever roles they hold, and does "
        "not deploy the team's versions.",
    )
    note = models.CharField(max_length=300, blank=True)
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["risk_tier", "-number"]
        verbose_name_plural = "review policies"
        constraints = [
            models.UniqueConstraint(
                fields=["risk_tier"],
                condition=models.Q(is_current=True),
                name="one_current_review_policy_per_tier",
            ),
            models.UniqueConstraint(
                fields=["risk_tier", "number"], name="review_policy_numbers_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.risk_tier} risk review policy v{self.number}"

    @property
    def slots(self) -> list[tuple[str, int]]:
        """(role, slot number) for every sign-off required."""
        return [
            (role, n) for role in SIGN_OFF_ROLES for n in range(1, self.required.get(role, 0) + 1)
        ]

    def is_stricter_than(self, other: ReviewPolicy) -> bool:
        """Asks for a sign-off, or an independence, that ``other`` does not."""
        more = any(self.required.get(r, 0) > other.required.get(r, 0) for r in SIGN_OFF_ROLES)
        return more or (self.independent and not other.independent)


class Review(models.Model):
    """The request that a version be approved, and its outcome. One per version."""

    permission_parent = "version"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"

    version = models.OneToOneField(ModelVersion, on_delete=models.PROTECT, related_name="review")
    policy = models.ForeignKey(ReviewPolicy, on_delete=models.PROTECT, related_name="reviews")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_reviews"
    )
    # Who held the sign-offs when review was requested: a change of the model's risk owner or
    # team during the review does not change whose sign-off it waits for, nor who is independent.
    risk_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    summary = models.TextField()
    is_exception = models.BooleanField(
        default=False,
        help_text="The version failed validation, or lacks required documentation, and goes to "
        "review anyway.",
    )
    exception_reasons = models.JSONField(
        default=list, blank=True, help_text="What the policy exception is for, one sentence each."
    )
    justification = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet["Review"].as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [
            ("request_review", "Can request review of a version"),
            ("decide_review", "Can sign off, reject or request changes in a review"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_exception=False) | ~models.Q(justification=""),
                name="exception_needs_justification",
            )
        ]

    def __str__(self) -> str:
        return f"review of {self.version}"


class Decision(models.Model):
    """One reviewer's sign-off, rejection or change request, with a reason.

    The database holds the rules that concurrency could break: one decision per required
    sign-off, and one decision per person per review.
    """

    permission_parent = "review"

    class Verdict(models.TextChoices):
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"
        REQUEST_CHANGES = "request_changes", "Requested changes"

    review = models.ForeignKey(Review, on_delete=models.PROTECT, related_name="decisions")
    role = models.CharField(max_length=20)
    slot = models.PositiveSmallIntegerField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_decisions"
    )
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet["Decision"].as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "role", "slot"], name="one_decision_per_sign_off"
            ),
            models.UniqueConstraint(fields=["review", "reviewer"], name="one_decision_per_person"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="decision_needs_a_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.get_verdict_display().lower()} ({role_title(self.role)})"


class Comment(models.Model):
    """A message in a version's discussion. Markdown, rendered and sanitised for display."""

    permission_parent = "version"

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_comments"
    )
    body = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet["Comment"].as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(body=""), name="comment_not_blank")
        ]

    def __str__(self) -> str:
        return f"comment by {self.author} on {self.version}"


class ModelChange(models.Model):
    """A change of who answers for a model, or of how risky it is: its risk owner, owning team or
    risk tier.

    The owning team must not choose who signs off its work, so these changes are governed: the
    team proposes, and the model's current risk owner, compliance or an administrator approves
    (or makes the change themselves). Every step is audited.
    """

    permission_parent = "model"

    class Field(models.TextChoices):
        RISK_OWNER = "risk_owner", "Risk owner"
        TEAM = "team", "Owning team"
        RISK_TIER = "risk_tier", "Risk tier"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="changes")
    field = models.CharField(max_length=20, choices=Field.choices)
    # Usernames, team slugs or tier names, as people read them in the record.
    old_value = models.CharField(max_length=150)
    new_value = models.CharField(max_length=150)
    reason = models.TextField()
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet["ModelChange"].as_manager()

    class Meta:
        ordering = ["-proposed_at", "-id"]
        permissions = [
            ("decide_modelchange", "Can decide changes of any visible model's risk owner or tier")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "field"],
                condition=models.Q(status="pending"),
                name="one_pending_change_per_field",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="change_needs_a_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.get_field_display()} of {self.model}: {self.old_value} → {self.new_value}"

    def close(self, status: str, *, by: Any = None, reason: str = "") -> None:
        """Record how the proposal ended (the calling service audits it)."""
        self.status, self.decided_by, self.decision_reason = status, by, reason
        self.decided_at = timezone.now()
        self.save(update_fields=["status", "decided_by", "decision_reason", "decided_at"])
