"""Pages of MLflow interop: link and unlink a model, list the MLflow versions, import one."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from apps.core.views import ActionView, PortalView
from apps.integrations import automatic, mlflow_client, services
from apps.integrations.forms import AutomaticForm, ImportForm, LinkForm
from apps.integrations.models import MlflowConnection
from apps.registry import uploads
from apps.registry.models import RegisteredModel

ANCHOR = "#mlflow"


class Link(ActionView):
    queryset = RegisteredModel.objects.all()
    anchor = ANCHOR

    def target(self) -> RegisteredModel:
        found: RegisteredModel = self.get_object(slug=self.kwargs["slug"])
        return found

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        model = self.target()
        services.check_can_link(self.person, model)
        form = LinkForm(request.POST, connections=services.connections_for(self.person))
        if not form.is_valid():
            messages.error(request, "Choose an MLflow server and name the MLflow model.")
            return redirect(model.get_absolute_url() + ANCHOR)
        try:
            services.link_model(
                model.pk,
                actor=self.person,
                connection=form.cleaned_data["connection"],
                mlflow_name=form.cleaned_data["mlflow_name"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Linked to “{form.cleaned_data['mlflow_name']}” in MLflow.")
        return redirect(model.get_absolute_url() + ANCHOR)


class Unlink(ActionView):
    queryset = RegisteredModel.objects.all()
    anchor = ANCHOR

    def target(self) -> RegisteredModel:
        found: RegisteredModel = self.get_object(slug=self.kwargs["slug"])
        return found

    def perform(self, obj: RegisteredModel, form: Any) -> str:
        services.unlink_model(obj.pk, actor=self.person)
        return "Unlinked from MLflow. Imported versions keep their provenance."


class Picker(PortalView):
    """The linked MLflow model's versions, as a fragment the model page loads after itself (an
    MLflow server that is slow must not hold up the page)."""

    queryset = RegisteredModel.objects.all()

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        model: RegisteredModel = self.get_object(slug=slug)
        services.check_can_link(self.person, model)
        link = services.link_of(model)
        versions: list[services.MlflowVersion] = []
        error = ""
        if link is None:
            error = "This model is not linked to MLflow."
        else:
            try:
                versions = services.mlflow_versions(link)
            except mlflow_client.MlflowError as exc:
                error = str(exc)
        return render(
            request,
            "integrations/_picker.html",
            {"link": link, "versions": versions, "error": error},
        )


class _FilesForm(PortalView):
    """A form with files posted from the model page's MLflow section. The form reads the body
    first (the upload handlers refuse an oversized one while reading), then ``done`` calls the
    service; every outcome is a message on the model page."""

    queryset = RegisteredModel.objects.all()
    form_class: type[forms.Form]
    invalid = ""  # what an invalid form says; empty: the form's own errors

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        model: RegisteredModel = self.get_object(slug=slug)
        services.check_can_import(self.person, model)
        form = self.form_class(request.POST, request.FILES)  # reads the body: first
        stopped = uploads.refusal(request.upload_handlers)
        if stopped is not None:
            messages.error(request, stopped.message)
        elif not form.is_valid():
            errors = " ".join(str(m) for e in form.errors.values() for m in e)
            messages.error(request, self.invalid or errors)
        else:
            try:
                messages.success(request, self.done(model, form))
            except uploads.UploadRefused as refused:
                messages.error(request, refused.message)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
        return redirect(model.get_absolute_url() + ANCHOR)

    def done(self, model: RegisteredModel, form: Any) -> str:
        raise NotImplementedError


class Import(_FilesForm):
    form_class = ImportForm
    invalid = "Name the target column of the holdout."

    def done(self, model: RegisteredModel, form: ImportForm) -> str:
        data = form.cleaned_data
        record = services.request_import(
            model.pk,
            actor=self.person,
            reference=form.chosen_reference(),
            holdout=data.get("holdout"),
            holdout_artifact=data.get("holdout_artifact", ""),
            target_column=data["target_column"],
            sensitive_column=data.get("sensitive_column", ""),
        )
        return (
            f"Importing {record.reference} from MLflow: the new version appears when the job "
            "is done, then validates like an upload."
        )


@method_decorator(csrf_exempt, name="dispatch")
class Webhook(View):
    """MLflow's webhook deliveries for one connection. Not a person's request: no session, no
    CSRF token, no API token; MLflow's HMAC signature with the connection's webhook secret, its
    timestamp and its unique delivery id decide. Answers at once (202); imports run as jobs."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = MlflowConnection.objects.filter(pk=pk).first()
        if connection is None:
            return JsonResponse({"detail": "No such MLflow connection."}, status=404)
        delivery_id = request.headers.get("X-MLflow-Delivery-Id", "")
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit() or int(declared) > automatic.MAX_BODY_BYTES:
            refusal = automatic.Refusal(400, "the body is larger than an MLflow payload may be")
            automatic.refuse(connection, delivery_id, refusal)
            return JsonResponse({"detail": f"Refused: {refusal.reason}."}, status=400)
        try:
            started = automatic.receive(
                connection,
                delivery_id=delivery_id,
                timestamp=request.headers.get("X-MLflow-Timestamp", ""),
                signature=request.headers.get("X-MLflow-Signature", ""),
                body=request.body,
            )
        except automatic.Refusal as refusal:
            return JsonResponse({"detail": f"Refused: {refusal.reason}."}, status=refusal.status)
        return JsonResponse({"imports": [record.pk for record in started]}, status=202)


class SetAutomatic(_FilesForm):
    """Turn automatic import on, change it, or off (neither event chosen)."""

    form_class = AutomaticForm

    def done(self, model: RegisteredModel, form: AutomaticForm) -> str:
        data = form.cleaned_data
        link = automatic.set_automatic(
            model.pk,
            actor=self.person,
            wanted=automatic.Automatic(
                on_version_created=data["on_version_created"],
                on_alias=data.get("on_alias", ""),
                target_column=data.get("target_column", ""),
                sensitive_column=data.get("sensitive_column", ""),
                holdout_artifact=data.get("holdout_artifact", ""),
            ),
            holdout=data.get("holdout"),
        )
        if link.is_automatic and link.holdout_artifact:
            return (
                "Automatic import is on: MLflow's events import versions on your behalf, "
                f"each validated on its run's {link.holdout_artifact}."
            )
        if link.is_automatic:
            return (
                "Automatic import is on: MLflow's events import versions on your behalf, "
                "validated on the kept holdout."
            )
        return "Automatic import is off."
