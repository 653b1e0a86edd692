"""WSGI entry point for production servers (e.g. gunicorn saferoom.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saferoom.settings")
application = get_wsgi_application()
