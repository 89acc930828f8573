"""The Celery application. Configuration lives in settings.py under the ``CELERY_`` prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops_portal.settings")

app = Celery("mlops_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every worker reports that it is alive; /healthz and the reaper read these heartbeats.
from apps.jobs.worker import HeartbeatStep  # noqa: E402

app.steps["worker"].add(HeartbeatStep)
