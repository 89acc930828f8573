import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops_portal.settings")

portal = get_wsgi_application()

# pandas and pyarrow are imported where they are used, not here: the first upload (and the first
# report or chart that reads a frame) of each web process pays their import, about 0.7 s
# (bench/registry.py), so that a web process that never handles one does not carry them.

# /serve/ is answered in front of Django, with no middleware between a prediction and its model
# (apps/deployments/serving.py explains the trade); everything else goes to the portal. Models
# are not preloaded here: behind a proxy that sends /serve/ to the serving tier
# (serving_wsgi.py) a web process never serves one, and on one host (`make run`) a model loads
# on its first request, as before.
from apps.deployments.serving import ServingApp  # noqa: E402

application = ServingApp(portal)

# What start-up loaded (Django and the apps' modules) lives as long as the process. Frozen, the
# garbage collector stops scanning it on every full collection, which the prediction log's
# buffered records trigger every few thousand requests: the worst pauses of a serving process went
# from about 130 ms to about 60 ms (what remains is the log's batch write).
gc.collect()
gc.freeze()
