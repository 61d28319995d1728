"""WSGI entry point (gunicorn gamification.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gamification.settings")
django_application = get_wsgi_application()

from gamification.middleware import chunked_body_buffered  # noqa: E402 - needs the settings

application = chunked_body_buffered(django_application)
