#!/bin/sh
# Container entrypoint: prepare the writable runtime paths, then exec the command so it runs
# as PID 1's direct replacement and receives SIGTERM itself.
#   (default)  gunicorn -c /app/gunicorn.conf.py gamification.wsgi
#   migrate    python manage.py migrate --noinput   (run once per deploy, before web/worker)
#   other      executed as given, e.g. celery -A gamification worker -l info
set -eu

# prometheus_client opens its files in this directory as soon as Django imports
# django_prometheus, in every process (manage.py and Celery included), so it must exist even
# when /tmp is a fresh tmpfs. gunicorn.conf.py empties it when the web server starts.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

if [ "${1:-}" = "migrate" ]; then
    shift
    set -- python manage.py migrate --noinput "$@"
fi

exec "$@"
