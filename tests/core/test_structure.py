"""The rules of the portal kept by its structure, not by hand (issue "Core before growth").

- every routed view goes through a base that restricts its rows before any handler runs;
- a base view that lets a subclass narrow its rows by overriding get_queryset refuses it;
- the registry of contributions refuses a store, a name or a value that is wrong, at start-up;
- ``is_superuser`` is read in apps/core only: elsewhere administrators act through permissions.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from apps.core.api import ScopedAPIView
from apps.core.registry import JobKind, Registry, Section
from apps.core.views import PortalView

BASE = Path(settings.BASE_DIR)

# Views that must answer people who are not signed in (each has its own guard), and Django's and
# the schema generator's own views, which are behind their own login.
PUBLIC = {
    "apps.accounts.views.PortalLoginView",  # the sign-in form
    "apps.accounts.views.PortalLogoutView",  # Django's LogoutView, plus the provider's sign-out
    "apps.accounts.views.SsoStart",  # off to the identity provider
    "apps.accounts.views.SsoCallback",  # the provider's answer: state, PKCE and ID token checked
    "apps.jobs.views.healthz",  # states only, for load balancers
    "apps.accounts.api.views.ObtainTokenView",  # exchanges a password for a token
    "apps.deployments.serving.django_view",  # the serving endpoint: its own keys
    "apps.integrations.views.Webhook",  # MLflow's deliveries: HMAC signature, timestamp, id
    "drf_spectacular.views.SpectacularAPIView",  # the schema: IsAuthenticated in settings
    "drf_spectacular.views.SpectacularSwaggerSplitView",  # behind login_required in urls.py
    "mlops_portal.urls.favicon",  # a redirect to the static icon
}


def _views(patterns=None):  # type: ignore[no-untyped-def]
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue  # Django's admin: staff only, its own permission checks
            yield from _views(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            yield str(entry.pattern), entry.callback


def _name(callback) -> str:  # type: ignore[no-untyped-def]
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    target = view or getattr(callback, "__wrapped__", callback)
    return f"{target.__module__}.{target.__qualname__}"


def test_every_routed_view_goes_through_a_base_that_restricts_before_any_handler():
    unguarded = []
    for route, callback in _views():
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if _name(callback) in PUBLIC:
            continue
        if view is None or not issubclass(view, PortalView | ScopedAPIView):
            unguarded.append(f"{route} -> {_name(callback)}")
    assert not unguarded, "views outside PortalView/ScopedAPIView:\n" + "\n".join(unguarded)


def test_the_public_views_are_exactly_the_ones_named():
    routed = {_name(callback) for _, callback in _views()}
    assert routed >= PUBLIC


def test_a_view_that_overrides_the_scoping_hook_is_refused_when_it_is_defined():
    with pytest.raises(TypeError, match="overrides get_queryset"):

        class Sneaky(ScopedAPIView):  # type: ignore[misc]
            def get_queryset(self):  # type: ignore[no-untyped-def]
                return []

    with pytest.raises(TypeError, match="overrides dispatch"):

        class Bypass(PortalView):  # type: ignore[misc]
            def dispatch(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
                return None

    with pytest.raises(TypeError, match="overrides initial"):

        class Early(ScopedAPIView):  # type: ignore[misc]
            def initial(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
                return None


def test_a_scoped_api_view_that_reads_before_it_is_scoped_fails_loudly():
    from apps.registry.models import RegisteredModel

    class Early(ScopedAPIView):
        queryset = RegisteredModel.objects.all()

    with pytest.raises(RuntimeError, match="before it was scoped"):
        Early().get_queryset()
    assert issubclass(Early, APIView)


def test_the_registry_refuses_a_wrong_store_name_or_value():
    registry = Registry()
    with pytest.raises(AttributeError):
        registry.dashbord_panels.add("x", lambda user: [])  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="must be JobKind"):
        registry.job_kinds.add("validation", lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a function"):
        registry.version_sections.add("x", Section("t.html"))  # type: ignore[arg-type]
    registry.job_kinds.add("x", JobKind("x", "x.run"))
    with pytest.raises(ValueError, match="already has an entry named 'x'"):
        registry.job_kinds.add("x", JobKind("x", "x.run"))
    with pytest.raises(KeyError, match="no entry named 'y'"):
        registry.job_kinds["y"]
    with pytest.raises(FrozenInstanceError):  # no store is added or replaced
        registry.rules = registry.rules  # type: ignore[misc]


def test_an_app_registering_a_wrong_name_stops_the_portal_at_start_up(tmp_path):
    """A real start-up (django.setup) with an app whose ready() misspells a store."""
    package = tmp_path / "misspelt"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "apps.py").write_text(
        "from django.apps import AppConfig\n\n"
        "class MisspeltConfig(AppConfig):\n"
        "    name = 'misspelt'\n\n"
        "    def ready(self):\n"
        "        from apps.core.registry import registry\n"
        "        registry.dashbord_panels.add('misspelt', lambda user: [])\n"
    )
    script = (
        "import django, os\n"
        "from django.conf import settings\n"
        "import mlops_portal.settings as portal\n"
        "portal.INSTALLED_APPS.append('misspelt')\n"
        "django.setup()\n"
    )
    started = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{tmp_path}:{BASE}",
            "DJANGO_SETTINGS_MODULE": "mlops_portal.settings",
            "PORTAL_VAR_DIR": str(tmp_path / "var"),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0
    assert "dashbord_panels" in started.stderr


def test_is_superuser_is_read_in_apps_core_only():
    found = [
        f"{path.relative_to(BASE)}:{n}"
        for path in (BASE / "apps").rglob("*.py")
        if "core" not in path.relative_to(BASE / "apps").parts[:1]
        and "migrations" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.is_superuser\b", line)
    ]
    found += [
        f"{path.relative_to(BASE)}:{n}"
        for path in (BASE / "templates").rglob("*.html")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "is_superuser" in line
    ]
    assert not found, found


def test_celery_would_send_every_task_beat_schedules():
    """Celery refuses to send a task whose soft time limit is above its hard one (the project's
    default soft limit can be above a task's own hard limit): beat would log an error every
    time and the task would never run."""
    from mlops_portal.celery import app

    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        task = app.tasks[entry["task"]]
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft is None or hard is None or soft <= hard, (name, soft, hard)
