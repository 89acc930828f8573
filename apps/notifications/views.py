from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.core.permissions import user_of
from apps.notifications import services
from apps.notifications.forms import PreferencesForm
from apps.notifications.models import Notification


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    notifications = Notification.objects.filter(recipient=user_of(request))
    if request.GET.get("unread"):
        notifications = notifications.filter(read_at__isnull=True)
    page = Paginator(notifications, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/notification_list.html",
        {
            "page": page,
            "unread_only": bool(request.GET.get("unread")),
            "query": "unread=1" if request.GET.get("unread") else "",
        },
    )


@login_required
@require_POST
def read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark one notification read and follow its link."""
    user = user_of(request)
    notification = Notification.objects.filter(recipient=user, pk=notification_id).first()
    if notification is None:
        return redirect("notifications:inbox")
    services.mark_read(user, [notification.pk])
    if notification.url and url_has_allowed_host_and_scheme(notification.url, allowed_hosts=None):
        return redirect(notification.url)
    return redirect("notifications:inbox")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    count = services.mark_read(user_of(request))
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return redirect("notifications:inbox")


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    form = PreferencesForm(request.POST or None, current=services.preferences_of(user))
    if request.method == "POST" and form.is_valid():
        services.set_preferences(user, form.choices())
        messages.success(request, "Notification settings saved.")
        return redirect("notifications:preferences")
    return render(request, "notifications/preference_form.html", {"form": form})
