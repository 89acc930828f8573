import gc
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

# What start-up loaded (Django, scikit-learn, pandas: about a million objects) lives as long as the
# process. Frozen, the garbage collector stops scanning it on every full collection, which the
# prediction log's buffered records trigger every few thousand requests: the worst pauses of a
# serving process went from about 130 ms to about 60 ms (what remains is the log's batch write).
gc.collect()
gc.freeze()
