from __future__ import annotations

from django.contrib import admin

from apps.audit.admin import ReadOnlyAdmin
from apps.validation.models import ValidationPolicy, ValidationReport


@admin.register(ValidationPolicy)
class ValidationPolicyAdmin(ReadOnlyAdmin):
    """Edited on /validation/policies/, which versions and audits each change."""

    list_display = ["__str__", "number", "is_current", "created_by", "created_at", "note"]
    list_filter = ["is_current", "risk_tier"]


@admin.register(ValidationReport)
class ValidationReportAdmin(ReadOnlyAdmin):
    list_display = ["version", "outcome", "policy", "isolated", "duration_ms", "created_at"]
    list_filter = ["outcome", "isolated"]
    exclude = ["data"]
