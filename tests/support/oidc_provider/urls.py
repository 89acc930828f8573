"""URLs of the test provider: django-oauth-toolkit under /o/ (the issuer), login, control."""

from __future__ import annotations

from django.contrib.auth.views import LoginView
from django.urls import include, path
from oauth2_provider import urls as oauth2_urls  # type: ignore[import-untyped]

from .control import control

urlpatterns = [
    path(
        "o/",
        include(
            (oauth2_urls.base_urlpatterns + oauth2_urls.oidc_urlpatterns, "oauth2_provider"),
            namespace="oauth2_provider",
        ),
    ),
    path(
        "accounts/login/",
        LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("control/<slug:action>", control, name="control"),
]
