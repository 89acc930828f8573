"""The governance part of the model page: who answers for the model, and changes to that."""

from __future__ import annotations

from django.http import HttpRequest

from apps.core.permissions import can, user_of
from apps.core.registry import Section
from apps.registry.models import RegisteredModel
from apps.reviews.forms import ChangeDecisionForm, ChangeProposalForm
from apps.reviews.models import ModelChange


def sections(request: HttpRequest, model: RegisteredModel) -> list[Section]:
    user = user_of(request)
    changes = list(
        ModelChange.objects.filter(model=model).select_related("proposed_by", "decided_by")[:20]
    )
    decider = can(user, "reviews.decide_change", model)
    may_propose = can(user, "reviews.propose_change", model)
    return [
        Section(
            "reviews/_model_governance.html",
            {
                "model": model,
                "pending": [c for c in changes if c.status == ModelChange.Status.PENDING],
                "decided": [c for c in changes if c.status != ModelChange.Status.PENDING],
                "decider": decider,
                "user": user,
                "proposal_form": ChangeProposalForm(model=model) if may_propose else None,
                "decision_form": ChangeDecisionForm(),
            },
            order=10,
        )
    ]
