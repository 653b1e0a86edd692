"""Network reports: every site of a network together, and sites compared."""

from django.urls import path

from saferoom.reports import views

app_name = "network_reports"

urlpatterns = [
    path("", views.network_dashboard, name="dashboard"),
    path("print/", views.network_print, name="print"),
    path("download/", views.network_export, name="export"),
]
