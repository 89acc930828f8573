"""The validation part of the version page: the live job, then the report and its charts."""

from __future__ import annotations

from django.http import HttpRequest

from apps.core.permissions import can, user_of
from apps.core.registry import Section
from apps.registry.models import ModelVersion
from apps.validation import charts, sandbox, services


def sections(request: HttpRequest, version: ModelVersion) -> list[Section]:
    report = services.latest_report(version)
    job = services.jobs_of(version).first()
    active = job is not None and not job.is_finished
    can_rerun = (
        version.status in services.RERUNNABLE
        and not active
        and can(user_of(request), "validation.rerun", version)
    )
    return [
        Section(
            "validation/_version_section.html",
            {
                "version": version,
                "report": report,
                "job": job,
                "active": active,
                "figures": charts.figures(report.data) if report and not active else [],
                "can_rerun": can_rerun,
                "pickle": version.artifact_format != "skops",
                "isolation": sandbox.isolation() if version.artifact_format != "skops" else None,
            },
            order=10,
        )
    ]
