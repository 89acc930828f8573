from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from apps.core.permissions import Person, RestrictedQuerySet
from apps.jobs.models import Job
from apps.registry.models import ModelVersion, RegisteredModel

HEADLINE_METRICS = [
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("roc_auc", "ROC AUC"),
    ("pr_auc", "PR AUC"),
    ("log_loss", "Log loss"),
    ("brier", "Brier"),
    ("ks", "KS"),
    ("gini", "Gini"),
    ("precision_macro", "Precision (macro)"),
    ("recall_macro", "Recall (macro)"),
    ("f1_macro", "F1 (macro)"),
    ("roc_auc_ovr", "ROC AUC (one-vs-rest)"),
    ("rmse", "RMSE"),
    ("mae", "MAE"),
    ("r2", "R²"),
]


class ValidationPolicyQuerySet(RestrictedQuerySet["ValidationPolicy"]):
    def restrict(self, user: Person, action: str = "view") -> ValidationPolicyQuerySet:
        """A risk tier's policy is a bank-wide rule every signed-in person reads; a model's own
        policy is seen with the model."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        models_seen = RegisteredModel.objects.restrict(user, action).values("pk")
        return self.filter(models.Q(model__isnull=True) | models.Q(model__in=models_seen))


class ValidationPolicy(models.Model):
    """The checks and thresholds a version is judged by, for a risk tier or for one model.

    Policies are versioned: an edit adds a row with the next number and makes it current, so a
    report can always show the exact policy it was judged by.
    """

    risk_tier = models.CharField(
        max_length=10, choices=RegisteredModel.RiskTier.choices, blank=True
    )
    model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.PROTECT, related_name="policies"
    )
    number = models.PositiveIntegerField()
    checks = models.JSONField(default=dict)
    note = models.CharField(max_length=300, blank=True)
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ValidationPolicyQuerySet.as_manager()

    class Meta:
        ordering = ["risk_tier", "model_id", "-number"]
        verbose_name_plural = "validation policies"
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(model__isnull=True) & ~models.Q(risk_tier=""))
                | (models.Q(model__isnull=False) & models.Q(risk_tier="")),
                name="policy_for_a_tier_or_a_model",
            ),
            models.UniqueConstraint(
                fields=["risk_tier"],
                condition=models.Q(is_current=True, model__isnull=True),
                name="one_current_policy_per_tier",
            ),
            models.UniqueConstraint(
                fields=["model"],
                condition=models.Q(is_current=True, model__isnull=False),
                name="one_current_policy_per_model",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} policy v{self.number}"

    @property
    def scope(self) -> str:
        return f"model {self.model}" if self.model_id else f"{self.risk_tier} risk"


class ValidationReport(models.Model):
    """The outcome of one validation job: metrics, checks against the policy, and the verdict.

    One report per job (the constraint makes a redelivered job unable to store a second one).
    """

    permission_parent = "version"

    class Outcome(models.TextChoices):
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed the policy"
        ERROR = "error", "Could not be validated"

    version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="validation_reports"
    )
    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="validation_report")
    policy = models.ForeignKey(
        ValidationPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reasons = models.JSONField(default=list, blank=True)
    checks = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)
    champion = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    isolated = models.BooleanField(help_text="Ran in the namespace sandbox (bubblewrap).")
    duration_ms = models.PositiveIntegerField(default=0)
    # The model converted to ONNX for the serving fast path (docs/serving-fast-path.md), stored
    # under a generated key like the canonical copy and checked against this digest before every
    # load; blank when the version serves on scikit-learn (``data["serving_path"]`` says why).
    onnx_key = models.CharField(max_length=200, blank=True)
    onnx_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet["ValidationReport"].as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"validation of {self.version}: {self.outcome}"

    @property
    def duration_seconds(self) -> float:
        return self.duration_ms / 1000

    @property
    def headline_metrics(self) -> list[tuple[str, float | None]]:
        """(label, value) of the single-number metrics the report holds, in reading order."""
        metrics = self.data.get("metrics", {})
        return [(label, metrics[key]) for key, label in HEADLINE_METRICS if key in metrics]

    @property
    def serving_path(self) -> dict[str, Any] | None:
        """Which path the version serves on, "onnx" or "scikit-learn", and why (None for a
        report from before the fast path, or one that could not be validated); and whether, on
        scikit-learn, the model takes its rows as a plain array of numbers or needs its
        DataFrame (``takes_arrays`` True or False, and why; None for a report from before that
        was checked at validation: serving then tries the model when it loads it)."""
        found = self.data.get("serving_path") if isinstance(self.data, dict) else None
        if not isinstance(found, dict) or found.get("path") not in ("onnx", "scikit-learn"):
            return None
        arrays = found.get("arrays")
        arrays = arrays if isinstance(arrays, dict) else {}
        takes_arrays = arrays.get("takes_arrays")
        return {
            "path": found["path"],
            "reason": str(found.get("reason", "")),
            "takes_arrays": takes_arrays if isinstance(takes_arrays, bool) else None,
            "arrays_reason": str(arrays.get("reason", "")),
        }

    @property
    def summary(self) -> dict[str, Any]:
        """The handful of figures shown in lists and by the CLI."""
        metrics = self.data.get("metrics", {})
        primary = self.data.get("primary_metric")
        return {
            "outcome": self.outcome,
            "reasons": self.reasons,
            "primary_metric": primary,
            "primary_value": metrics.get(primary) if primary else None,
            "policy": str(self.policy) if self.policy else None,
        }
