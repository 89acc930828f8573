import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops_portal.settings")

application = get_wsgi_application()

# The first upload of each web process would otherwise pay ~0.7 s importing pandas and pyarrow
# (bench/registry.py measured it); pay it at start-up instead.
import pandas  # noqa: E402, F401
import pyarrow.parquet  # noqa: E402, F401
