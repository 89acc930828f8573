from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.core.permissions import get_visible_or_404, user_of, visible_to
from apps.deployments import services, serving
from apps.deployments.models import Deployment, Environment, ServingKey
from apps.registry.models import ModelVersion, RegisteredModel


def _version(request: HttpRequest, slug: str, number: int) -> ModelVersion:
    return get_visible_or_404(
        request.user, ModelVersion.objects.select_related("model"), model__slug=slug, number=number
    )


def _model(request: HttpRequest, slug: str) -> RegisteredModel:
    return get_visible_or_404(request.user, RegisteredModel.objects.all(), slug=slug)


def _act(request: HttpRequest, action: Callable[[], object], success: str) -> None:
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success)


def _switched(
    request: HttpRequest,
    model: RegisteredModel,
    switch: Callable[[], Deployment],
    success: str,
) -> HttpResponse:
    """Run a rollback or undeploy; land on the page of the version it concerned."""
    try:
        deployment = switch()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(model)
    messages.success(request, success)
    return redirect(deployment.version.get_absolute_url() + "#deployments")


@login_required
@require_POST
def deploy(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    environment = request.POST.get("environment", "")
    _act(
        request,
        lambda: services.request_deployment(version.pk, environment, actor=user_of(request)),
        f"Deployment to {environment} queued; this page shows it going live.",
    )
    return redirect(version.get_absolute_url() + "#deployments")


@login_required
@require_POST
def rollback(request: HttpRequest, slug: str, environment: str) -> HttpResponse:
    model = _model(request, slug)
    return _switched(
        request,
        model,
        lambda: services.rollback(model.pk, environment, actor=user_of(request)),
        f"Rolled back in {environment}: the previous version serves again within a second.",
    )


@login_required
@require_POST
def undeploy(request: HttpRequest, slug: str, environment: str) -> HttpResponse:
    model = _model(request, slug)
    return _switched(
        request,
        model,
        lambda: services.undeploy(model.pk, environment, actor=user_of(request)),
        f"Undeployed from {environment}: nothing of {model} serves there now.",
    )


@login_required
@require_POST
def retire(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    _act(
        request,
        lambda: services.retire(version.pk, actor=user_of(request)),
        f"Version {number} retired.",
    )
    return redirect(version)


def _moment(request: HttpRequest) -> datetime:
    """The moment asked about (``on`` date, ``at`` time in the portal's time zone, noon by
    default), or now."""
    on, at = request.GET.get("on", ""), request.GET.get("at", "") or "12:00"
    if not on:
        return timezone.now()
    try:
        return timezone.make_aware(datetime.strptime(f"{on} {at}", "%Y-%m-%d %H:%M"))
    except ValueError:
        messages.error(request, "Give the date as YYYY-MM-DD and the time as HH:MM; showing now.")
        return timezone.now()


@login_required
def history(request: HttpRequest) -> HttpResponse:
    """Every switch of what served, and what was live at a given moment."""
    user = user_of(request)
    visible = visible_to(user, RegisteredModel.objects.all())
    switches = (
        Deployment.objects.filter(model__in=visible, live_from__isnull=False)
        .select_related("model", "version", "environment", "requested_by", "ended_by")
        .order_by("-live_from")
    )
    environment = request.GET.get("environment", "")
    if environment:
        switches = switches.filter(environment__slug=environment)
    if model := request.GET.get("model", "").strip():
        switches = switches.filter(model__slug=model)
    moment = _moment(request)
    live_then = list(
        switches.filter(live_from__lte=moment)
        .filter(Q(live_until__isnull=True) | Q(live_until__gt=moment))
        .order_by("model__name", "environment__order")
    )
    page = Paginator(switches, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "deployments/deployment_list.html",
        {
            "page": page,
            "environments": Environment.objects.all(),
            "environment": environment,
            "model": request.GET.get("model", ""),
            "on": request.GET.get("on", ""),
            "at": request.GET.get("at", ""),
            "moment": moment,
            "now": "on" not in request.GET,
            "live_then": live_then,
            "query": query.urlencode(),
        },
    )


@login_required
def keys(request: HttpRequest, slug: str) -> HttpResponse:
    """Serving keys of one model: create one (shown once) or revoke one."""
    model = _model(request, slug)
    user = user_of(request)
    created = None
    if request.method == "POST":
        try:
            if revoke := request.POST.get("revoke"):
                key = get_visible_or_404(user, ServingKey.objects.filter(model=model), pk=revoke)
                services.revoke_serving_key(key.pk, actor=user)
                messages.success(
                    request, f"Key “{key.name}” revoked: it is refused within a second."
                )
            else:
                key, raw = services.create_serving_key(
                    model.pk,
                    request.POST.get("environment", ""),
                    actor=user,
                    name=request.POST.get("name", ""),
                )
                created = {"key": key, "raw": raw}
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        services.check_can_deploy(user, model)
    return render(
        request,
        "deployments/servingkey_list.html",
        {
            "model": model,
            "created": created,
            "environments": Environment.objects.all(),
            "keys": ServingKey.objects.filter(model=model).select_related(
                "environment", "created_by"
            ),
        },
    )


# The serving endpoint through Django's URLconf: development and test servers. Production's
# gunicorn answers /serve/ before Django (mlops_portal/wsgi.py). Keys, not cookies: no CSRF.
serve = csrf_exempt(serving.django_view)
