# The portal's production image: web (gunicorn), worker and beat all run from it.
FROM python:3.11-slim

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
CMD ["gunicorn", "mlops_portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--threads", "4", "--timeout", "120", "--access-logfile", "-"]
