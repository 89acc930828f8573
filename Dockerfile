# The portal's production image: web (gunicorn), worker and beat all run from it.
#
# The base image is pinned by digest, so that a rebuild gets exactly the image that was reviewed
# and scanned, not whatever the tag points at that day. Pass it as a build argument
# (docker-compose.yml takes it from PORTAL_PYTHON_BASE); to pin or update it:
#   docker buildx imagetools inspect python:3.11-slim-bookworm    # prints "Digest: sha256:…"
#   PORTAL_PYTHON_BASE=python:3.11-slim-bookworm@sha256:<that digest>
ARG PYTHON_BASE
FROM ${PYTHON_BASE}
# A tag alone builds from whatever it points at today: refuse it.
ARG PYTHON_BASE
RUN case "$PYTHON_BASE" in \
      *@sha256:????????????????????????????????????????????????????????????????) ;; \
      *) echo "PYTHON_BASE must name an image by digest (...@sha256:<64 hex>), got '$PYTHON_BASE'" >&2; \
         exit 1 ;; \
    esac

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORTAL_VAR_DIR=/var/lib/portal \
    PORTAL_STATIC_ROOT=/app/staticfiles

# bubblewrap isolates the validation sandbox (see docs/operations.md for what the worker
# container must allow); without it pickle artifacts are refused and .skops still validated.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home --uid 10001 portal
WORKDIR /app

COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY . .
RUN pip install --no-cache-dir --no-deps . \
 && SECRET_KEY=collectstatic-only-not-used-at-run-time-0123456789abcdef \
    PORTAL_VAR_DIR=/tmp/build python manage.py collectstatic --noinput \
 && rm -rf /tmp/build \
 && mkdir -p /var/lib/portal && chown portal:portal /var/lib/portal

USER portal
EXPOSE 8000
# Processes and threads per web container, from the environment; exec: gunicorn, not the shell,
# receives docker's SIGTERM and shuts down gracefully.
ENV GUNICORN_WORKERS=3 \
    GUNICORN_THREADS=4
CMD ["sh", "-c", "exec gunicorn mlops_portal.wsgi --bind 0.0.0.0:8000 --workers \"$GUNICORN_WORKERS\" --threads \"$GUNICORN_THREADS\" --timeout 120 --access-logfile -"]
