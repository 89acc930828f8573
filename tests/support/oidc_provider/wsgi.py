"""WSGI entry point of the test provider; migrates its own SQLite database before serving.

Run by gunicorn with one worker (and several threads), so the migration runs once, before the
first request.
"""

from __future__ import annotations

import os

import django
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.oidc_provider.settings"
django.setup()
call_command("migrate", interactive=False, verbosity=0)

application = get_wsgi_application()
