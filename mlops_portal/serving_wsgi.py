"""The serving tier's WSGI entry point: ``/serve/`` only, every other path a JSON 404.

    gunicorn mlops_portal.serving_wsgi --preload --workers 2 --threads 4

Django is set up (the ORM reads placements and keys, and writes the prediction logs), but
neither its request handler, middleware and URLconf nor the portal's views are loaded, and
pandas and pyarrow are imported only if a loaded model needs a DataFrame: validation records
whether a model answers the same from a float array (docs/serving-fast-path.md, "Arrays or a
DataFrame"), scikit-learn is imported with pandas hidden, and ``GET /serve/_status`` says
whether pandas was imported (``pandas_imported``).

Before the first request it loads the models live in production, at most
``PORTAL_SERVING_MAX_MODELS`` (``Models.preload``): the first request to each then costs what
any other does, not the 1.5 to 2.7 s of loading it.

Run it with ``--preload``. Then this module, and the models, load once in gunicorn's master
before it forks its workers: every worker starts with the models in memory (copy-on-write, their
arrays shared until a worker drops one), no worker's boot can time out while twenty models load,
and a worker that dies is replaced at once with the same models. Without ``--preload`` each
worker imports this module and loads its own copy, which works too, at the cost of memory and
start-up time per worker. What is loaded after the fork (a switched version, a model dropped and
asked for again) is each worker's own either way.
"""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops_portal.settings")
# One OpenMP (and OpenBLAS) thread per call, read when a model first loads the runtime. With
# --preload gunicorn forks this process after the models were loaded and tried (Scorer), and a
# child of a process whose GNU OpenMP runtime had started its thread pool can hang at its first
# parallel call. One thread is also what a serving process wants: its workers and their threads
# already keep the cores busy, and more threads per call would only fight them.
os.environ.setdefault("OMP_NUM_THREADS", "1")
django.setup(set_prefix=False)

from django.db import connections  # noqa: E402

from apps.deployments.serving import MODELS, ServingApp  # noqa: E402

MODELS.preload()
# The connection preload opened must not be shared by the forked workers (two processes talking
# on one socket); each opens its own at its first request.
connections.close_all()

application = ServingApp()

# As in wsgi.py: what start-up loaded, models included, is moved out of the garbage collector's
# reach. Before a fork this also keeps the collector from touching (and so copying) the pages the
# workers share.
gc.collect()
gc.freeze()
