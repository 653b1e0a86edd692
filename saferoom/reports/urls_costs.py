"""Operating costs a manager enters by month (indicator C1)."""

from django.urls import URLPattern

app_name = "costs"

urlpatterns: list[URLPattern] = []
