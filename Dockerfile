# syntax=docker/dockerfile:1
# Gamification scoring engine: one image for web (gunicorn), migrate, Celery worker and beat.
#   docker build -t gamification .
#   docker run -e SECRET_KEY=... -e DATABASE_URL=... -p 8000:8000 gamification
ARG PYTHON_IMAGE=python:3.12-slim

# --- build: the virtualenv, kept out of the runtime image's layers ---------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# --no-deps: requirements.txt is the complete lock (django-prometheus 2.5.0 declares
# Django<6.1 and would otherwise make pip's resolver refuse Django 6.1).
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/venv/bin/pip install --no-deps -r /tmp/requirements.txt

# --- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=gamification.settings \
    PORT=8000

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# Code and static files stay root-owned: the app user can read but not modify them.
COPY . .
RUN chmod 0755 deploy/entrypoint.sh \
    && SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q -j 0 /app \
    && install -d -o app -g app -m 0750 /tmp/prometheus-multiproc

# Per-worker metric files of prometheus_client's multiprocess mode; gunicorn.conf.py empties
# it at start. Set after collectstatic so the build writes no metric files.
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc

USER app:app
EXPOSE 8000
# Gunicorn stops gracefully on SIGTERM (graceful_timeout, 30 s by default): give containers
# more than that before SIGKILL (docker stop -t / compose stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["gunicorn", "-c", "/app/gunicorn.conf.py", "gamification.wsgi"]
