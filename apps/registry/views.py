from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.extensions import app_modules
from apps.accounts.permissions import can, get_visible_or_404, require, user_of, visible_to
from apps.audit.models import AuditEvent
from apps.audit.services import object_type_of
from apps.registry import services, uploads
from apps.registry.api.views import file_download
from apps.registry.filters import InventoryFilterForm, inventory
from apps.registry.forms import ModelEditForm, RegisterModelForm, ShareForm, UploadVersionForm
from apps.registry.models import ModelVersion, RegisteredModel

PAGE_SIZE = 25


def _model(request: HttpRequest, slug: str) -> RegisteredModel:
    return get_visible_or_404(
        request.user,
        RegisteredModel.objects.select_related("team", "owner", "risk_owner", "latest_version"),
        slug=slug,
    )


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


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    form = InventoryFilterForm(request.GET)
    models = form.apply(
        inventory(visible_to(request.user, RegisteredModel.objects.all()), request.user)
    )
    page = Paginator(models, PAGE_SIZE).get_page(request.GET.get("page"))
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
            "can_register": can(request.user, "registry.add_registeredmodel"),
        },
        status=400 if form.errors else 200,
    )


@login_required
def model_register(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if request.method == "POST":  # the service says the same; say it before the form does
        require(
            user, "registry.add_registeredmodel", message="Only data scientists register models."
        )
    form = RegisterModelForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            model = services.register_model(actor=user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"“{model.name}” registered. Upload its first version next.")
            return redirect("registry:version-upload", slug=model.slug)
    elif request.method == "GET" and not can(user, "registry.add_registeredmodel"):
        messages.info(request, "Only data scientists register models.")
        return redirect("registry:model-list")
    return render(
        request,
        "registry/registeredmodel_form.html",
        {"form": form, "model": None},
        status=400 if form.is_bound else 200,
    )


@login_required
def model_detail(request: HttpRequest, slug: str) -> HttpResponse:
    model = _model(request, slug)
    user = user_of(request)
    versions = visible_to(
        user, model.versions.select_related("uploaded_by").prefetch_related("files")
    )
    return render(
        request,
        "registry/registeredmodel_detail.html",
        {
            "model": model,
            "tags": model.tags.all(),
            "versions": versions,
            "grants": services.access_list(model),
            "can_change": can(user, services.CHANGE, model),
            "can_share": can(user, services.SHARE, model),
            "can_upload": can(user, services.CHANGE, model)
            and can(user, "registry.add_modelversion"),
            "share_form": ShareForm(),
            "sections": model_sections(request, model),
        },
    )


@login_required
def model_history(request: HttpRequest, slug: str) -> HttpResponse:
    """This model's audit events, those of its versions, and those of what other apps keep
    about it (each app's ``model_history.audited_with(model)``: deployments, serving keys)."""
    model = _model(request, slug)
    visible_versions = visible_to(request.user, model.versions.all())
    version_ids = [str(pk) for pk in visible_versions.values_list("pk", flat=True)]
    events = AuditEvent.objects.filter(
        object_type=object_type_of(model), object_id=str(model.pk)
    ) | AuditEvent.objects.filter(
        object_type=object_type_of(ModelVersion()), object_id__in=version_ids
    )
    for module in app_modules("model_history"):
        for object_type, ids in module.audited_with(model).items():
            events |= AuditEvent.objects.filter(object_type=object_type, object_id__in=ids)
    page = Paginator(events.order_by("-id"), 50).get_page(request.GET.get("page"))
    return render(request, "registry/registeredmodel_history.html", {"model": model, "page": page})


@login_required
def model_edit(request: HttpRequest, slug: str) -> HttpResponse:
    model = _model(request, slug)
    user = user_of(request)
    services.check_can_change(user, model)
    initial = {
        "name": model.name,
        "use_case": model.use_case,
        "description": model.description,
        "tags": list(model.tags.values_list("name", flat=True)),
    }
    form = ModelEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_model(model.pk, actor=user, changes=form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Details saved.")
            return redirect(model)
    return render(
        request,
        "registry/registeredmodel_form.html",
        {"form": form, "model": model},
        status=400 if form.is_bound else 200,
    )


@login_required
def version_upload(request: HttpRequest, slug: str) -> HttpResponse:
    """The upload form. With JavaScript it posts to the API and shows a progress bar; without,
    it posts here."""
    model = _model(request, slug)
    user = user_of(request)
    services.check_can_upload(user, model)
    form = UploadVersionForm(request.POST or None, request.FILES or None)
    status = 200
    stopped = uploads.refusal(request.upload_handlers) if request.method == "POST" else None
    if stopped is not None:
        # The files missing from the form were cut off by the refusal: say that alone.
        form = UploadVersionForm(request.POST, request.FILES)
        form.is_valid()
        form.errors.clear()
        form.add_error(stopped.field if stopped.field in form.fields else None, stopped.message)
        status = stopped.status
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = services.upload_version(
                model.pk,
                actor=user,
                artifact=data["artifact"],
                holdout=data["holdout"],
                target_column=data["target_column"],
                reference=data.get("reference"),
                sensitive_column=data.get("sensitive_column", ""),
                notes=data.get("notes", ""),
            )
        except uploads.UploadRefused as refused:
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
            status = refused.status
        except ValidationError as invalid:
            form.add_error(None, invalid)
            status = 400
        else:
            messages.success(request, f"Version {version.number} uploaded.")
            return redirect(version)
    elif request.method == "POST":
        status = 400
    return render(
        request, "registry/modelversion_form.html", {"form": form, "model": model}, status=status
    )


@dataclass
class Section:
    """A part of the version page that an app above the registry contributes."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 50


def model_sections(request: HttpRequest, model: RegisteredModel) -> list[Section]:
    """Sections from each app's ``model_page.sections(request, model)``, in order."""
    found: list[Section] = []
    for module in app_modules("model_page"):
        found.extend(module.sections(request, model))
    return sorted(found, key=lambda s: s.order)


def version_sections(request: HttpRequest, version: ModelVersion) -> list[Section]:
    """Sections from each app's ``version_page.sections(request, version)``, in order."""
    found: list[Section] = []
    for module in app_modules("version_page"):
        found.extend(module.sections(request, version))
    return sorted(found, key=lambda s: s.order)


@login_required
def version_detail(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    model = _model(request, slug)
    version = get_visible_or_404(
        request.user,
        ModelVersion.objects.select_related("uploaded_by").prefetch_related("files"),
        model=model,
        number=number,
    )
    return render(
        request,
        "registry/modelversion_detail.html",
        {"model": model, "version": version, "sections": version_sections(request, version)},
    )


@login_required
def file_download_view(request: HttpRequest, slug: str, number: int, role: str) -> FileResponse:
    return file_download(request, slug, number, role)


@login_required
@require_POST
def share(request: HttpRequest, slug: str) -> HttpResponse:
    model = _model(request, slug)
    form = ShareForm(request.POST)
    if form.is_valid():
        try:
            grant = services.share_model(
                model.pk,
                actor=user_of(request),
                grantee=form.grantee_id(),
                level=form.cleaned_data["level"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Shared with {grant.name} ({grant.level}).")
    else:
        messages.error(request, "Name someone to share with and choose a level.")
    return redirect(model.get_absolute_url() + "#sharing")


@login_required
@require_POST
def unshare(request: HttpRequest, slug: str) -> HttpResponse:
    model = _model(request, slug)
    grantee_id = request.POST.get("grantee", "")
    try:
        services.unshare_model(model.pk, actor=user_of(request), grantee=grantee_id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Access of {grantee_id.split(':', 1)[-1]} revoked.")
    return redirect(model.get_absolute_url() + "#sharing")
