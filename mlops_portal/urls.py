from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts import views as accounts
from apps.jobs.views import healthz

api_v1: list[URLPattern | URLResolver] = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.jobs.api.urls")),
    path("", include("apps.registry.api.urls")),
    path("", include("apps.validation.api.urls")),
    path("", include("apps.notifications.api.urls")),
    path("", include("apps.reviews.api.urls")),
    path("", include("apps.deployments.api.urls")),
    path("", include("apps.monitoring.api.urls")),
    path("", include("apps.findings.api.urls")),
    path("", include("apps.documentation.api.urls")),
    path("", include("apps.analytics.api.urls")),
    path("", include("apps.integrations.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # A page for people: anonymous visitors go to the login page rather than getting a 401.
    path(
        "docs/",
        # Our template: the portal's header and a way back around Swagger UI, whose files come
        # from drf-spectacular-sidecar (settings: SWAGGER_UI_DIST), never from a CDN.
        login_required(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", template_name="api/swagger_ui.html", title="API docs"
            )
        ),
        name="api-docs",
    ),
]


@require_safe
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico whatever a page links (JSON answers link nothing): send
    them to the portal's icon. Public, like the static files it points to."""
    response = HttpResponsePermanentRedirect(static("favicon.svg"))
    # A day, not forever: the static name carries a hash that changes with the icon.
    response["Cache-Control"] = "public, max-age=86400"
    return response


handler400 = "apps.accounts.views.bad_request"
handler404 = "apps.accounts.views.page_not_found"

urlpatterns = [
    path("", accounts.Dashboard.as_view(), name="dashboard"),
    path("login/", accounts.PortalLoginView.as_view(), name="login"),
    path("login/sso/", accounts.SsoStart.as_view(), name="sso-login"),
    path("login/sso/callback/", accounts.SsoCallback.as_view(), name="sso-callback"),
    path("logout/", accounts.PortalLogoutView.as_view(), name="logout"),
    path("account/", include("apps.accounts.urls")),
    path("inbox/", include("apps.notifications.urls")),
    path("audit/", include("apps.analytics.urls")),
    path("audit/", include("apps.audit.urls")),
    path("jobs/", include("apps.jobs.urls")),
    path("monitoring/", include("apps.monitoring.urls")),
    path("findings/", include("apps.findings.urls")),
    path("models/", include("apps.registry.urls")),
    path("", include("apps.validation.urls")),
    path("", include("apps.recertification.urls")),
    path("", include("apps.reviews.urls")),
    path("", include("apps.deployments.urls")),
    path("", include("apps.documentation.urls")),
    path("", include("apps.integrations.urls")),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
]
