"""Site reports: dashboard, printable report and exports (CSV, XLSX, JSON)."""

from django.urls import path

from saferoom.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("print/", views.print_report, name="print"),
    path("download/", views.export, name="export"),
]
