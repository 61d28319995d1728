"""WSGI entry point (gunicorn gamification.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gamification.settings")
application = get_wsgi_application()
