from __future__ import annotations

from functools import cached_property

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render

from apps.audit.forms import EventFilterForm
from apps.audit.views import export_csv
from apps.core.formats import listing
from apps.core.permissions import can, require
from apps.core.registry import live_versions, registry, waiting_for
from apps.core.views import PortalView, contributed, flag_models, live_models
from apps.registry import history, services, uploads
from apps.registry.filters import InventoryFilterForm, inventory
from apps.registry.forms import ModelEditForm, RegisterModelForm, ShareForm, UploadVersionForm
from apps.registry.models import ModelVersion, RegisteredModel, StoredFile
from apps.registry.storage import file_response

PAGE_SIZE = 25


def _add_errors(form: object, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form's fields (or at the top)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None  # type: ignore[attr-defined]
            for error in errors:
                form.add_error(target, error)  # type: ignore[attr-defined]
    else:
        for error in exc.messages:
            form.add_error(None, error)  # type: ignore[attr-defined]


class ModelList(PortalView):
    """The inventory: every model the person may see, searched, filtered, sorted and paged."""

    queryset = RegisteredModel.objects.all()

    def get(self, request: HttpRequest) -> HttpResponse:
        form = InventoryFilterForm(request.GET)
        models = form.apply(inventory(self.queryset, self.person))
        page = Paginator(models, PAGE_SIZE).get_page(request.GET.get("page"))
        flag_models(page.object_list)
        live_models(page.object_list)
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "registry/registeredmodel_list.html",
            {
                "form": form,
                "page": page,
                "query": query.urlencode(),
                "filtered": any(v for k, v in request.GET.items() if k not in ("page", "sort")),
                "can_register": can(self.person, "registry.add_registeredmodel"),
            },
            status=400 if form.errors else 200,
        )


class ModelRegister(PortalView):
    """Registering a model. Reads no governed rows: the model does not exist yet."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not can(self.person, "registry.add_registeredmodel"):
            messages.info(request, "Only data scientists register models.")
            return redirect("registry:model-list")
        return self._form(RegisterModelForm(user=self.person))

    def post(self, request: HttpRequest) -> HttpResponse:
        # The service says the same; say it before the form does.
        require(
            self.person,
            "registry.add_registeredmodel",
            message="Only data scientists register models.",
        )
        form = RegisterModelForm(request.POST, user=self.person)
        if form.is_valid():
            try:
                model = services.register_model(actor=self.person, **form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(
                    request, f"“{model.name}” registered. Upload its first version next."
                )
                return redirect("registry:version-upload", slug=model.slug)
        return self._form(form)

    def _form(self, form: RegisterModelForm) -> HttpResponse:
        return render(
            self.request,
            "registry/registeredmodel_form.html",
            {"form": form, "model": None},
            status=400 if form.is_bound else 200,
        )


class ModelView(PortalView):
    """A page about the model named by the URL's ``slug``."""

    queryset = RegisteredModel.objects.select_related(
        "team", "owner", "risk_owner", "latest_version"
    )

    @cached_property
    def model(self) -> RegisteredModel:
        found: RegisteredModel = self.get_object(slug=self.kwargs["slug"])
        return found

    def back(self, anchor: str = "") -> HttpResponse:
        return redirect(self.model.get_absolute_url() + anchor)


class ModelDetail(ModelView):
    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        model, user = self.model, self.person
        versions = model.versions.restrict(user).select_related("uploaded_by")
        return render(
            request,
            "registry/registeredmodel_detail.html",
            {
                "model": model,
                "tags": model.tags.all(),
                "versions": versions.prefetch_related("files"),
                "grants": services.access_list(model),
                "can_change": can(user, "registry.edit", model),
                "can_share": can(user, "registry.share", model),
                "can_upload": can(user, "registry.upload", model),
                "share_form": ShareForm(),
                "sections": contributed(registry.model_sections, request, model),
                "live": live_versions([model.pk]).get(model.pk, []),
            },
        )


class ModelHistory(ModelView):
    """This model's audit events, those of its versions the person may see, and those of what
    other apps keep about it (``registry.model_history``: deployments, serving keys, ...),
    filtered by person, action and dates; ``export=True`` (the ``export.csv`` route) gives the
    filtered events as CSV, to whoever may see the model page, audited like the trail's export."""

    export = False

    def get(self, request: HttpRequest, slug: str) -> HttpResponseBase:
        model = self.model
        events = history.model_events(model, self.person)
        form = EventFilterForm(request.GET or None, events=events)
        if form.is_bound:
            events = form.apply(events) if form.is_valid() else events.none()
        if self.export:
            return export_csv(request, form, events, subject=model, name=f"history-{model.slug}")
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "registry/registeredmodel_history.html",
            {"model": model, "page": page, "form": form, "query": query.urlencode()},
            status=400 if form.errors else 200,
        )


class ModelEdit(ModelView):
    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        services.check_can_change(self.person, self.model)
        model = self.model
        initial = {
            "name": model.name,
            "use_case": model.use_case,
            "description": model.description,
            "tags": list(model.tags.values_list("name", flat=True)),
        }
        return self._form(ModelEditForm(initial=initial))

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        services.check_can_change(self.person, self.model)
        form = ModelEditForm(request.POST)
        if form.is_valid():
            try:
                services.update_model(self.model.pk, actor=self.person, changes=form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, "Details saved.")
                return self.back()
        return self._form(form)

    def _form(self, form: ModelEditForm) -> HttpResponse:
        return render(
            self.request,
            "registry/registeredmodel_form.html",
            {"form": form, "model": self.model},
            status=400 if form.is_bound else 200,
        )


class VersionUpload(ModelView):
    """The upload form. With JavaScript it posts to the API and shows a progress bar; without,
    it posts here."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        services.check_can_upload(self.person, self.model)
        return self._form(UploadVersionForm(), 200)

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        services.check_can_upload(self.person, self.model)
        form = UploadVersionForm(request.POST, request.FILES)  # reads the body: first
        stopped = uploads.refusal(request.upload_handlers)
        if stopped is not None:
            # The files missing from the form were cut off by the refusal: say that alone.
            form.is_valid()
            form.errors.clear()
            form.add_error(stopped.field if stopped.field in form.fields else None, stopped.message)
            return self._form(form, stopped.status)
        if not form.is_valid():
            return self._form(form, 400)
        data = form.cleaned_data
        try:
            version = services.upload_version(
                self.model.pk,
                actor=self.person,
                artifact=data["artifact"],
                holdout=data["holdout"],
                target_column=data["target_column"],
                reference=data.get("reference"),
                sensitive_column=data.get("sensitive_column", ""),
                notes=data.get("notes", ""),
            )
        except uploads.UploadRefused as refused:
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
            return self._form(form, refused.status)
        except ValidationError as invalid:
            form.add_error(None, invalid)
            return self._form(form, 400)
        messages.success(request, f"Version {version.number} uploaded.")
        return redirect(version)

    def _form(self, form: UploadVersionForm, status: int) -> HttpResponse:
        return render(
            self.request,
            "registry/modelversion_form.html",
            {"form": form, "model": self.model},
            status=status,
        )


class VersionDetail(PortalView):
    queryset = ModelVersion.objects.select_related(
        "uploaded_by", "model__team", "model__owner", "model__risk_owner"
    ).prefetch_related("files")

    def get(self, request: HttpRequest, slug: str, number: int) -> HttpResponse:
        version: ModelVersion = self.get_object(model__slug=slug, number=number)
        return render(
            request,
            "registry/modelversion_detail.html",
            {
                "model": version.model,
                "version": version,
                "sections": contributed(registry.version_sections, request, version),
                "tabs": [tab for source in registry.version_tabs for tab in source(version)],
                "live_here": [
                    live
                    for live in live_versions([version.model_id]).get(version.model_id, [])
                    if live.version == version.number
                ],
                "waiting_for": listing(waiting_for(version)),
            },
        )


class FileDownload(PortalView):
    """A version's stored file, as an attachment."""

    queryset = StoredFile.objects.select_related("version__model")

    def get(self, request: HttpRequest, slug: str, number: int, role: str) -> FileResponse:
        stored: StoredFile = self.get_object(
            version__model__slug=slug, version__number=number, role=role
        )
        return file_response(stored)


class Share(ModelView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        form = ShareForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Name someone to share with and choose a level.")
            return self.back("#sharing")
        try:
            grant = services.share_model(
                self.model.pk,
                actor=self.person,
                grantee=form.grantee_id(),
                level=form.cleaned_data["level"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Shared with {grant.name} ({grant.level}).")
        return self.back("#sharing")


class Unshare(ModelView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        grantee_id = request.POST.get("grantee", "")
        try:
            services.unshare_model(self.model.pk, actor=self.person, grantee=grantee_id)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Access of {grantee_id.split(':', 1)[-1]} revoked.")
        return self.back("#sharing")
