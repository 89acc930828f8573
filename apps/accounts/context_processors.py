from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from apps.accounts.roles import ROLE_LABELS, roles_of


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The navigation a user's roles call for; capability checks still happen in each view."""
    user = request.user
    if not user.is_authenticated:
        return {}
    items = [("Dashboard", reverse("dashboard"))]
    items.append(("Models", reverse("registry:model-list")))
    items.append(("Reviews", reverse("reviews:queue")))
    items.append(("Deployments", reverse("deployments:history")))
    items.append(("Monitoring", reverse("monitoring:portfolio")))
    items.append(("Jobs", reverse("jobs:list")))
    items.append(("Policies", reverse("validation:policies")))
    if user.has_perm("audit.view_auditevent"):
        items.append(("Audit", reverse("audit:list")))
    items.append(("Analytics", reverse("analytics:changes")))
    items.append(("API tokens", reverse("accounts:tokens")))
    items.append(("API docs", reverse("api-docs")))
    if user.is_staff:
        items.append(("Admin", reverse("admin:index")))
    current = request.path
    nav = [
        {
            "label": label,
            "url": url,
            "current": current == url or (url != "/" and current.startswith(url)),
        }
        for label, url in items
    ]
    return {
        "nav_items": nav,
        "user_roles": [ROLE_LABELS[r] for r in roles_of(user)],
    }
