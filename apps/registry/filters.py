"""Search, filters and sort order of the inventory: one definition for the page and the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import BooleanField, Case, F, IntegerField, Q, QuerySet, Value, When

from apps.core.permissions import Person, holding
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


def _one_of(choices: list[tuple[str, str]]) -> dict[str, str]:
    """Django's "Select a valid choice" names neither the values offered nor, in the API, the
    parameter; someone who typed a URL or wrote a script needs the list."""
    accepted = ", ".join(value for value, _ in choices if value)
    return {"invalid_choice": f"“%(value)s” is not one of: {accepted}."}


RISK_TIERS = [("", "Any"), *RegisteredModel.RiskTier.choices]
STATUSES = [("", "Any"), ("none", "No versions yet"), *ModelVersion.Status.choices]
SORT_CHOICES = [(key, label) for key, (_, label) in SORTS.items()]


class InventoryFilterForm(forms.Form):
    """The inventory's filters. A value that is not offered is an error on its field: the page
    shows it there and applies the other filters, the API refuses the request (400)."""

    q = forms.CharField(required=False, label="Search", help_text="Name, tag or use case")
    risk_tier = forms.ChoiceField(
        required=False, choices=RISK_TIERS, error_messages=_one_of(RISK_TIERS)
    )
    status = forms.ChoiceField(
        required=False,
        label="Latest version",
        choices=STATUSES,
        error_messages=_one_of(STATUSES),
    )
    team = forms.CharField(required=False, help_text="Team slug")
    owner = forms.CharField(required=False, help_text="Username")
    risk_owner = forms.CharField(required=False, help_text="Username")
    sort = forms.ChoiceField(
        required=False, choices=SORT_CHOICES, error_messages=_one_of(SORT_CHOICES)
    )

    def apply(self, models: QuerySet[RegisteredModel]) -> QuerySet[RegisteredModel]:
        """The filters and order asked for, from every field whose value is valid."""
        self.is_valid()  # fills cleaned_data with the valid fields only
        data: dict[str, Any] = getattr(self, "cleaned_data", {})  # an unbound form has none
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
            models = models.annotate(
                risk_rank=Case(
                    When(risk_tier="high", then=Value(0)),
                    When(risk_tier="medium", then=Value(1)),
                    default=Value(2),
                    output_field=IntegerField(),
                )
            )
        return models.order_by(order, "name", "pk")
