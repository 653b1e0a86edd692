"""ASGI entry point for production servers (e.g. uvicorn saferoom.asgi:application)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saferoom.settings")
application = get_asgi_application()
