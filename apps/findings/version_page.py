"""The findings part of the version page: what was found, and the forms to raise and answer."""

from __future__ import annotations

from django.http import HttpRequest

from apps.core.permissions import can, user_of
from apps.core.registry import Section
from apps.findings import services
from apps.findings.forms import RaiseForm
from apps.findings.models import Finding
from apps.registry.models import ModelVersion


def sections(request: HttpRequest, version: ModelVersion) -> list[Section]:
    user = user_of(request)
    findings = list(
        Finding.objects.filter(model_id=version.model_id, version__number__lte=version.number)
        .select_related("version", "owner", "raised_by")
        .order_by("state", "-raised_at")
    )
    applies = [f for f in findings if f.version_id == version.pk or f.state != Finding.State.CLOSED]
    return [
        Section(
            "findings/_version_section.html",
            {
                "version": version,
                "findings": applies,
                "blocking": services.approval_blockers(version),
                "may_raise": can(user, services.RAISE)
                and can(user, "registry.view_modelversion", version),
                "form": RaiseForm(auto_id="finding-%s"),
                "user": user,
            },
            order=25,
        )
    ]
