"""The JSON API under /api/v1/ (django-ninja)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
