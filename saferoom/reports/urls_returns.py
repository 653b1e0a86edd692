"""Returns in the shapes funders use (Health Canada, Glasgow Thistle, North Rhine-Westphalia)."""

from django.urls import URLPattern

app_name = "returns"

urlpatterns: list[URLPattern] = []
