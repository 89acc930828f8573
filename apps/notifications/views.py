from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from apps.core.views import ActionView, PortalView
from apps.notifications import services
from apps.notifications.forms import PreferencesForm
from apps.notifications.models import Notification


class Inbox(PortalView):
    """The person's notifications, newest first; ``?unread=1`` the unread ones only."""

    queryset = Notification.objects.all()

    def get(self, request: HttpRequest) -> HttpResponse:
        unread = bool(request.GET.get("unread"))
        found = self.queryset.filter(read_at__isnull=True) if unread else self.queryset
        page = Paginator(found, 30).get_page(request.GET.get("page"))
        return render(
            request,
            "notifications/notification_list.html",
            {"page": page, "unread_only": unread, "query": "unread=1" if unread else ""},
        )


class Read(ActionView):
    """Mark one notification read and follow its link."""

    queryset = Notification.objects.all()

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        notification = self.queryset.filter(pk=kwargs["notification_id"]).first()
        if notification is None:
            return redirect("notifications:inbox")
        services.mark_read(self.person, [notification.pk])
        url = notification.url
        if url and url_has_allowed_host_and_scheme(url, allowed_hosts=None):
            return redirect(url)
        return redirect("notifications:inbox")


class ReadAll(ActionView):
    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        count = services.mark_read(self.person)
        messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
        return redirect("notifications:inbox")


class Preferences(PortalView):
    """Which events a person wants in the inbox and by email."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = PreferencesForm(current=services.preferences_of(self.person))
        return render(request, "notifications/preference_form.html", {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PreferencesForm(request.POST, current=services.preferences_of(self.person))
        if form.is_valid():
            services.set_preferences(self.person, form.choices())
            messages.success(request, "Notification settings saved.")
            return redirect(reverse("notifications:preferences"))
        return render(request, "notifications/preference_form.html", {"form": form}, status=400)
