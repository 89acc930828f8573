"""Search, filters and sort order of the inventory: one definition for the page and the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import BooleanField, Case, F, Q, QuerySet, Value, When

from apps.accounts.permissions import Person, holding
from apps.registry.models import ModelVersion, RegisteredModel

SORTS = {
    "name": ("name", "Name (A to Z)"),
    "-updated": ("-updated_at", "Recently changed"),
    "risk": ("risk_rank", "Risk tier (high first)"),
    "-versions": ("-version_count", "Most versions"),
}


def inventory(queryset: QuerySet[RegisteredModel], user: Person) -> QuerySet[RegisteredModel]:
    """What an inventory row shows, in a fixed number of queries however many rows there are.

    The latest version shown is the latest ``user`` may see: for someone who sees every version,
    the model's latest; for model operations, the latest submitted for review (a team's drafts
    stay the team's). Annotated as ``shown_version_number`` and ``shown_version_status``.
    """
    sees_all = holding(user, RegisteredModel, ["view_registeredmodel"])
    return (
        queryset.select_related("team", "owner", "risk_owner")
        .prefetch_related("tags")
        .alias(
            sees_all_versions=Case(
                When(sees_all, then=Value(True)), default=Value(False), output_field=BooleanField()
            )
        )
        .annotate(
            shown_version_number=Case(
                When(sees_all_versions=True, then=F("latest_version__number")),
                default=F("latest_submitted__number"),
            ),
            shown_version_status=Case(
                When(sees_all_versions=True, then=F("latest_version__status")),
                default=F("latest_submitted__status"),
            ),
        )
    )


class InventoryFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", help_text="Name, tag or use case")
    risk_tier = forms.ChoiceField(
        required=False, choices=[("", "Any"), *RegisteredModel.RiskTier.choices]
    )
    status = forms.ChoiceField(
        required=False,
        label="Latest version",
        choices=[("", "Any"), ("none", "No versions yet"), *ModelVersion.Status.choices],
    )
    team = forms.CharField(required=False, help_text="Team slug")
    owner = forms.CharField(required=False, help_text="Username")
    risk_owner = forms.CharField(required=False, help_text="Username")
    sort = forms.ChoiceField(
        required=False, choices=[(k, label) for k, (_, label) in SORTS.items()]
    )

    def apply(self, models: QuerySet[RegisteredModel]) -> QuerySet[RegisteredModel]:
        data: dict[str, Any] = self.cleaned_data if self.is_valid() else {}
        if q := (data.get("q") or "").strip():
            # A subquery rather than a join: no duplicate rows, so no DISTINCT over the page.
            tagged = RegisteredModel.tags.through.objects.filter(tag__name__iexact=q)
            models = models.filter(
                Q(name__icontains=q)
                | Q(use_case__icontains=q)
                | Q(pk__in=tagged.values("registeredmodel_id"))
            )
        if data.get("risk_tier"):
            models = models.filter(risk_tier=data["risk_tier"])
        # The latest version the viewer may see, annotated by ``inventory``.
        if data.get("status") == "none":
            models = models.filter(Q(shown_version_number__isnull=True))
        elif data.get("status"):
            models = models.filter(Q(shown_version_status=data["status"]))
        for field, lookup in (
            ("team", "team__slug"),
            ("owner", "owner__username"),
            ("risk_owner", "risk_owner__username"),
        ):
            if value := (data.get(field) or "").strip():
                models = models.filter(**{lookup: value})
        order = SORTS.get(data.get("sort") or "name", SORTS["name"])[0]
        if order == "risk_rank":
            from django.db.models import Case, IntegerField, Value, When

            models = models.annotate(
                risk_rank=Case(
                    When(risk_tier="high", then=Value(0)),
                    When(risk_tier="medium", then=Value(1)),
                    default=Value(2),
                    output_field=IntegerField(),
                )
            )
        return models.order_by(order, "name", "pk")
