"""Network reports: every site of a network together, and sites compared."""

from django.urls import URLPattern

app_name = "network_reports"

urlpatterns: list[URLPattern] = []
