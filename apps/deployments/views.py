from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from apps.core.permissions import can
from apps.core.views import ActionView, PortalView, scoped_get
from apps.deployments import services, serving
from apps.deployments.forms import (
    ChallengerForm,
    DeployForm,
    RevokeKeyForm,
    ServingKeyForm,
    StartChallengerForm,
    TrafficForm,
)
from apps.deployments.models import Deployment, Environment, Placement, ServingKey
from apps.registry.models import ModelVersion, RegisteredModel


class VersionAction(ActionView):
    """A form posted from a version's page, about that version."""

    queryset = ModelVersion.objects.select_related("model")

    def target(self) -> ModelVersion:
        found: ModelVersion = self.get_object(
            model__slug=self.kwargs["slug"], number=self.kwargs["number"]
        )
        return found


class Deploy(VersionAction):
    anchor = "#deployments"
    form_class = DeployForm
    invalid_message = "Choose the environment to deploy to."

    def perform(self, version: ModelVersion, form: forms.Form | None) -> str:
        assert form is not None
        environment = form.cleaned_data["environment"]
        mode = form.cleaned_data["mode"] or Deployment.Mode.CHAMPION
        services.request_deployment(
            version.pk,
            environment,
            actor=self.person,
            mode=mode,
            traffic=form.cleaned_data["traffic"],
        )
        if mode == Deployment.Mode.CHAMPION:
            return f"Deployment to {environment} queued; this page shows it going live."
        return (
            f"Version {version.number} queued to run beside the live version in {environment} "
            f"as a {mode} challenger; this page shows it starting."
        )


class Retire(VersionAction):
    def perform(self, version: ModelVersion, form: forms.Form | None) -> str:
        services.retire(version.pk, actor=self.person)
        return f"Version {version.number} retired."


class Switch(ActionView):
    """A rollback or undeploy in one environment: lands on the page of the version it
    concerned, or back on the model's page when it was refused."""

    queryset = RegisteredModel.objects.all()
    switched: Deployment | None = None

    def target(self) -> RegisteredModel:
        found: RegisteredModel = self.get_object(slug=self.kwargs["slug"])
        return found

    def next_url(self, model: RegisteredModel) -> str:
        if self.switched is None:
            return str(model.get_absolute_url())
        return str(self.switched.version.get_absolute_url()) + "#deployments"


class Challenge(Switch):
    """Change, promote or stop the challenger in one environment, with a reason."""

    form_class = ChallengerForm
    invalid_message = "Say why: the reason is kept in the audit trail."


class ChallengerTraffic(Challenge):
    form_class = TrafficForm
    invalid_message = "Give the canary's share (1 to 50 percent) and say why."

    def perform(self, model: RegisteredModel, form: forms.Form | None) -> str:
        assert form is not None
        environment, share = self.kwargs["environment"], form.cleaned_data["traffic"]
        self.switched = services.set_traffic(
            model.pk, environment, share, actor=self.person, reason=form.cleaned_data["reason"]
        )
        return f"The canary in {environment} answers {share} % of the requests within a second."


class ChallengerPromote(Challenge):
    def perform(self, model: RegisteredModel, form: forms.Form | None) -> str:
        assert form is not None
        environment = self.kwargs["environment"]
        self.switched = services.promote_challenger(
            model.pk, environment, actor=self.person, reason=form.cleaned_data["reason"]
        )
        return (
            f"Version {self.switched.version.number} is the live version in {environment}; "
            "it answers every request within a second."
        )


class ChallengerStop(Challenge):
    def perform(self, model: RegisteredModel, form: forms.Form | None) -> str:
        assert form is not None
        environment = self.kwargs["environment"]
        self.switched = services.stop_challenger(
            model.pk, environment, actor=self.person, reason=form.cleaned_data["reason"]
        )
        return f"Challenger stopped in {environment}: the live version answers every request."


class StartChallenger(ActionView):
    """Start a challenger from the deployments page (the version page does it per version)."""

    queryset = ModelVersion.objects.select_related("model")
    form_class = StartChallengerForm
    invalid_message = "Choose the model, the version, the environment and the mode."
    started: ModelVersion | None = None

    def target(self) -> None:
        return None

    def perform(self, _: None, form: forms.Form | None) -> str:
        assert form is not None
        data = form.cleaned_data
        assert self.queryset is not None  # restricted to what the person may see
        version = self.queryset.filter(model__slug=data["model"], number=data["version"]).first()
        if version is None:
            raise ValidationError(
                f"There is no version {data['version']} of “{data['model']}” that you can see."
            )
        services.request_deployment(
            version.pk,
            data["environment"],
            actor=self.person,
            mode=data["mode"],
            traffic=data["traffic"],
        )
        self.started = version
        return (
            f"Version {version.number} of {version.model} queued to run beside the live version "
            f"in {data['environment']} as a {data['mode']} challenger."
        )

    def next_url(self, _: None) -> str:
        if self.started is None:
            return "/deployments/#challengers"
        return str(self.started.get_absolute_url()) + "#deployments"


class Rollback(Switch):
    def perform(self, model: RegisteredModel, form: forms.Form | None) -> str:
        environment = self.kwargs["environment"]
        self.switched = services.rollback(model.pk, environment, actor=self.person)
        return f"Rolled back in {environment}: the previous version serves again within a second."


class Undeploy(Switch):
    def perform(self, model: RegisteredModel, form: forms.Form | None) -> str:
        environment = self.kwargs["environment"]
        self.switched = services.undeploy(model.pk, environment, actor=self.person)
        return f"Undeployed from {environment}: nothing of {model} serves there now."


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


class History(PortalView):
    """Every switch of what served, and what was live at a given moment."""

    queryset = (
        Deployment.objects.filter(live_from__isnull=False)
        .select_related("model", "version", "environment", "requested_by", "ended_by")
        .order_by("-live_from")
    )

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.queryset is not None
        switches = self.queryset
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
        _with_challenger_changes(page.object_list)
        running = Placement.objects.filter(challenger__in=self.queryset).select_related(
            "model", "environment", "deployment__version", "challenger__version"
        )
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
                # The filter offers the models whose deployments this person may see: the
                # restriction the list itself goes through (a deployment follows its model).
                "models": RegisteredModel.objects.restrict(self.person)
                .only("slug", "name")
                .order_by("name"),
                "on": request.GET.get("on", ""),
                "at": request.GET.get("at", ""),
                "moment": moment,
                "now": "on" not in request.GET,
                "live_then": live_then,
                "running": running.order_by("model__name", "environment__order"),
                "modes": [m for m in Deployment.Mode.choices if m[0] != Deployment.Mode.CHAMPION],
                "may_deploy": can(self.person, services.DEPLOY),
                "query": query.urlencode(),
            },
        )


def _with_challenger_changes(deployments: Any) -> None:
    """Give each challenger on the page its share changes, with who made them and why (from
    the audit trail, one query for the page)."""
    from apps.audit.models import AuditEvent
    from apps.audit.services import object_type_of
    from apps.core.audit_actions import AuditAction

    challengers = {str(d.pk): d for d in deployments if d.is_challenger}
    for d in challengers.values():
        d.share_changes = []
    if not challengers:
        return
    changes = AuditEvent.objects.filter(
        action=AuditAction.CHALLENGER_TRAFFIC_CHANGED,
        object_type=object_type_of(next(iter(challengers.values()))),
        object_id__in=list(challengers),
    ).order_by("occurred_at")
    for event in changes:
        challengers[event.object_id].share_changes.append(event)


class Keys(PortalView):
    """Serving keys of one model: create one (shown once) or revoke one."""

    queryset = RegisteredModel.objects.all()

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        model = self.get_object(slug=slug)
        services.check_can_deploy(self.person, model)
        return self._page(model, created=None)

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        model = self.get_object(slug=slug)
        created = None
        try:
            if "revoke" in request.POST:
                revoke = RevokeKeyForm(request.POST)
                if not revoke.is_valid():
                    raise Http404("There is no such serving key.")
                key = scoped_get(
                    ServingKey.objects.filter(model=model).restrict(self.person),
                    pk=revoke.cleaned_data["revoke"],
                )
                services.revoke_serving_key(key.pk, actor=self.person)
                messages.success(
                    request, f"Key “{key.name}” revoked: it is refused within a second."
                )
            else:
                form = ServingKeyForm(request.POST)
                if not form.is_valid():
                    raise ValidationError(
                        [
                            f"{name}: {error}"
                            for name, errors in form.errors.items()
                            for error in errors
                        ]
                    )
                key, raw = services.create_serving_key(
                    model.pk,
                    form.cleaned_data["environment"],
                    actor=self.person,
                    name=form.cleaned_data["name"],
                )
                created = {"key": key, "raw": raw}
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return self._page(model, created)

    def _page(self, model: RegisteredModel, created: dict[str, Any] | None) -> HttpResponse:
        request = self.request
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
