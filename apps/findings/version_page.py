"""The findings part of the version page: what was found, and the forms to raise and answer."""

from __future__ import annotations

from django.http import HttpRequest

from apps.core.permissions import can, user_of
from apps.core.registry import Section
from apps.findings import services
from apps.findings.forms import RaiseForm
from apps.registry.models import ModelVersion


def sections(request: HttpRequest, version: ModelVersion) -> list[Section]:
    user = user_of(request)
    findings = list(services.applying_to(version).select_related("version", "owner", "raised_by"))
    return [
        Section(
            "findings/_version_section.html",
            {
                "version": version,
                "findings": findings,
                "blocking": [services.blocker_sentence(f) for f in findings if f.blocks_approval],
                # Whoever sees this page sees the version: the role is what raising needs more.
                "may_raise": can(user, services.RAISE),
                "form": RaiseForm(auto_id="finding-%s"),
            },
            order=25,
        )
    ]
