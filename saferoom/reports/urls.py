"""Site reports: dashboard, printable report and exports (CSV, XLSX, JSON)."""

from django.urls import URLPattern

app_name = "reports"

urlpatterns: list[URLPattern] = []
