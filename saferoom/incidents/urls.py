"""Incident pages of a site: the emergency screen, records, timelines and review."""

from django.urls import path  # noqa: F401

app_name = "incidents"
urlpatterns: list = []
