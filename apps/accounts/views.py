from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import defaults
from django.views.decorators.http import require_POST

from apps.accounts import services
from apps.accounts.dashboard import panels_for
from apps.accounts.forms import TokenCreateForm
from apps.accounts.models import ApiToken
from apps.accounts.roles import ROLE_LABELS, roles_of
from apps.core.permissions import user_of


class PortalLoginView(LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    roles = roles_of(request.user)
    return render(
        request,
        "accounts/dashboard.html",
        {
            "panels": panels_for(user_of(request)),
            "role_titles": [ROLE_LABELS[r] for r in roles],
            "has_role": bool(roles),
        },
    )


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """List your tokens and create one. A new token is shown on this response only."""
    created = None
    form = TokenCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                token, raw = services.create_token(
                    actor=user_of(request),
                    name=form.cleaned_data["name"],
                    days=form.cleaned_data["days"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
                status = 400
            else:
                created = {"token": token, "raw": raw}
                form = TokenCreateForm()
        else:
            status = 400
    listing = ApiToken.objects.filter(user=user_of(request))
    return render(
        request,
        "accounts/apitoken_list.html",
        {"tokens": listing, "form": form, "created": created},
        status=status,
    )


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.revoke_token(token.pk, actor=user_of(request))
    messages.success(request, f"Token “{token.name}” revoked. Programs using it are now refused.")
    return redirect("accounts:tokens")


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """What django-axes answers while sign-ins for a username and address are throttled."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = (
        f"Too many failed sign-in attempts. Try again in {minutes} minutes, "
        "or ask an administrator to unlock the account."
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)


# The REST API answers JSON (``{"detail": …}``) even where Django, not DRF, answers: an address
# that matches no route (a slug with a space, a version number that is not a number) and a body
# Django refuses to read. Pages keep Django's HTML answers.
_REFUSED_BODY: dict[type[Exception], str] = {
    RequestDataTooBig: "The request body is larger than the {mb} MB the portal reads; send less.",
    TooManyFieldsSent: "The request has more than {fields} fields; send fewer.",
    TooManyFilesSent: "The request has more than {files} files; send fewer.",
}


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Nothing answers at this address; the API is described at /api/v1/docs/."},
            status=404,
        )
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        message = _REFUSED_BODY.get(type(exception), "The request could not be read.")
        detail = message.format(
            mb=settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2**20,
            fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
            files=settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        )
        return JsonResponse({"detail": detail}, status=400)
    return defaults.bad_request(request, exception)
