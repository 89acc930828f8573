import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops_portal.settings")

portal = get_wsgi_application()

# The first upload of each web process would otherwise pay ~0.7 s importing pandas and pyarrow
# (bench/registry.py measured it); pay it at start-up instead.
import pandas  # noqa: E402, F401
import pyarrow.parquet  # noqa: E402, F401

# /serve/ is answered in front of Django, with no middleware between a prediction and its model
# (apps/deployments/serving.py explains the trade); everything else goes to the portal.
from apps.deployments.serving import ServingApp  # noqa: E402

application = ServingApp(portal)
