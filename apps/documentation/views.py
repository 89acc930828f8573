from __future__ import annotations

import json
import time
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.core.permissions import can, not_found_message
from apps.core.registry import registry
from apps.core.views import PortalView
from apps.documentation import services
from apps.documentation.forms import ExportForm, NarrativeForm, PolicyForm, TemplateForm
from apps.documentation.models import DocumentationPolicy, Export, Revision, Template
from apps.jobs.models import Job
from apps.registry.models import ModelVersion, RegisteredModel

# How long a request for an export waits for the worker before showing the job's progress
# instead: a small document is simply downloaded, a large one never holds the request.
EXPORT_WAIT_SECONDS = 3.0


class VersionView(PortalView):
    """A page about one version's documentation, named by the model's slug and version number."""

    queryset = ModelVersion.objects.select_related(
        "model__team", "model__risk_owner", "model__owner", "uploaded_by"
    )

    def version(self) -> ModelVersion:
        found: ModelVersion = self.get_object(
            model__slug=self.kwargs["slug"], number=self.kwargs["number"]
        )
        return found

    def page(self, template: str, version: ModelVersion, **context: Any) -> HttpResponse:
        """Render a page of the version's documentation tab, under the version's tabs."""
        tabs = [tab for source in registry.version_tabs for tab in source(version)]
        return render(
            self.request,
            template,
            {"model": version.model, "version": version, "tabs": tabs, **context},
        )


def _revision(version: ModelVersion, number: Any) -> Revision:
    found = Revision.objects.filter(version=version, number=number).first() if number else None
    if found is None:
        raise Http404(not_found_message("documentation revision", str(number)))
    return found


class DocumentPage(VersionView):
    """The documentation tab: the latest revision (or ``?revision=N``), its exports, its
    revisions."""

    def get(self, request: HttpRequest, slug: str, number: int) -> HttpResponse:
        version = self.version()
        revisions = services.revisions_of(version)
        chosen = request.GET.get("revision")
        revision = _revision(version, chosen) if chosen else (revisions[0] if revisions else None)
        exports = list(
            Export.objects.filter(revision__version=version).select_related(
                "revision", "requested_by", "job"
            )[:20]
        )
        return self.page(
            "documentation/document.html",
            version,
            revision=revision,
            revisions=revisions,
            document=services.document_of(version, revision),
            missing=services.missing_sections(version),
            policy=services.current_policy(version.model.risk_tier),
            may_write=can(self.person, services.WRITE, version),
            exports=exports,
            formats=Export.Format.choices,
        )


class Edit(VersionView):
    def _form(self, version: ModelVersion, data: Any = None) -> NarrativeForm:
        policy = services.current_policy(version.model.risk_tier)
        return NarrativeForm(
            data,
            initial=services.working_narrative(version),
            sections=services.current_template().narrative_sections,
            required=policy.required if policy else [],
        )

    def _page(self, version: ModelVersion, form: NarrativeForm) -> HttpResponse:
        latest = services.latest_revision(version)
        return self.page(
            "documentation/edit.html",
            version,
            form=form,
            latest=latest,
            inherited=latest is None and bool(services.inherited_narrative(version)),
        )

    def get(self, request: HttpRequest, slug: str, number: int) -> HttpResponse:
        version = self.version()
        services.check_can_write(self.person, version)
        return self._page(version, self._form(version))

    def post(self, request: HttpRequest, slug: str, number: int) -> HttpResponse:
        version = self.version()
        form = self._form(version, request.POST)
        if form.is_valid():
            try:
                revision = services.save_narrative(
                    version.pk, actor=self.person, sections=form.cleaned_data
                )
            except ValidationError as problem:
                form.add_error(None, problem)
            else:
                messages.success(request, f"Saved as revision {revision.number}.")
                return redirect(services.url_of(version))
        return self._page(version, form)


class Diff(VersionView):
    """What changed between two revisions (``?from=1&to=2``; by default the last two)."""

    def get(self, request: HttpRequest, slug: str, number: int) -> HttpResponse:
        version = self.version()
        revisions = services.revisions_of(version)
        if len(revisions) < 2 and not request.GET.get("from"):
            messages.info(request, "There is only one revision: nothing to compare yet.")
            return redirect(services.url_of(version))
        new = _revision(version, request.GET.get("to") or revisions[0].number)
        old = _revision(version, request.GET.get("from") or new.number - 1)
        return self.page(
            "documentation/diff.html",
            version,
            old=old,
            new=new,
            revisions=revisions,
            parts=services.diff(
                services.document_of(version, old), services.document_of(version, new)
            ),
        )


class RequestExport(VersionView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, slug: str, number: int, revision: int) -> HttpResponse:
        version = self.version()
        found = _revision(version, revision)
        form = ExportForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose HTML, PDF or Word.")
            return redirect(services.url_of(version))
        export = services.request_export(
            found.pk, actor=self.person, format=form.cleaned_data["format"]
        )
        deadline = time.monotonic() + EXPORT_WAIT_SECONDS
        while time.monotonic() < deadline:
            status = Job.objects.filter(pk=export.job_id).values_list("status", flat=True).first()
            if status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
                break
            time.sleep(0.1)
        return redirect("documentation:export-status", pk=export.pk)


class ExportView(PortalView):
    queryset = Export.objects.select_related("revision__version__model", "requested_by", "job")


class ExportStatus(ExportView):
    """An export's progress while the worker writes it, then its hash and the download."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        export: Export = self.get_object(pk=pk)
        template = (
            "documentation/_export_progress.html"
            if request.headers.get("X-Portal-Poll")
            else "documentation/export.html"
        )
        return render(request, template, {"export": export, "job": export.job})


class ExportDownload(ExportView):
    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        export: Export = self.get_object(pk=pk)
        if not export.is_ready:
            raise Http404(not_found_message("export file", str(pk)))
        return services.file_response(export)


class TemplateEdit(PortalView):
    """The documentation template: every version of it, and the form that adds the next."""

    def _page(self, form: TemplateForm) -> HttpResponse:
        return render(
            self.request,
            "documentation/template.html",
            {
                "current": services.current_template(),
                "history": Template.objects.select_related("created_by")[:20],
                "form": form,
                "may_change": can(self.person, services.CHANGE_TEMPLATE),
                "kinds": sorted(services.facts.BUILDERS),
            },
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        current = services.current_template()
        return self._page(
            TemplateForm(
                initial={"sections": json.dumps(current.sections, indent=2, ensure_ascii=False)}
            )
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TemplateForm(request.POST)
        if form.is_valid():
            try:
                template = services.update_template(
                    actor=self.person,
                    sections=form.cleaned_data["sections"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError as problem:
                form.add_error(None, problem)
            else:
                messages.success(request, f"Saved as template v{template.number}.")
                return redirect("documentation:template")
        return self._page(form)


class Policies(PortalView):
    """Which narrative sections each risk tier requires before review."""

    def _page(self, forms: dict[str, PolicyForm]) -> HttpResponse:
        current = {p.risk_tier: p for p in DocumentationPolicy.objects.filter(is_current=True)}
        titles = {s["key"]: s["title"] for s in services.current_template().narrative_sections}
        return render(
            self.request,
            "documentation/policies.html",
            {
                "tiers": [
                    (
                        value,
                        label,
                        current.get(value),
                        [
                            titles.get(k, k)
                            for k in (current[value].required if value in current else [])
                        ],
                        forms[value],
                    )
                    for value, label in RegisteredModel.RiskTier.choices
                ],
                "may_change": can(self.person, services.CHANGE_POLICY),
                "history": DocumentationPolicy.objects.select_related("created_by")[:30],
            },
        )

    def _forms(self, data: Any = None, tier: str = "") -> dict[str, PolicyForm]:
        sections = services.current_template().narrative_sections
        found = {}
        for value, _ in RegisteredModel.RiskTier.choices:
            policy = services.current_policy(value)
            found[value] = PolicyForm(
                data if value == tier else None,
                initial={"risk_tier": value, "required": policy.required if policy else []},
                sections=sections,
                prefix=value,
            )
        return found

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(self._forms())

    def post(self, request: HttpRequest) -> HttpResponse:
        tier = request.POST.get("tier", "")
        if tier not in RegisteredModel.RiskTier.values:
            raise Http404(not_found_message("risk tier", tier))
        forms = self._forms(request.POST, tier)
        form = forms[tier]
        if form.is_valid():
            try:
                policy = services.update_policy(
                    actor=self.person,
                    risk_tier=tier,
                    required=form.cleaned_data["required"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError as problem:
                form.add_error(None, problem)
            else:
                messages.success(request, f"Saved {policy}; review requests follow it now.")
                return redirect("documentation:policies")
        return self._page(forms)
