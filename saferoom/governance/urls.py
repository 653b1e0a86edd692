"""Governance pages of one site: the audit log and disclosures."""

from django.urls import path

from saferoom.governance import views

app_name = "governance"

urlpatterns = [
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export/", views.audit_export, name="audit_export"),
    path("disclosures/", views.disclosures, name="disclosures"),
    path("disclosures/new/", views.disclosure_new, name="disclosure_new"),
    path("disclosures/<int:pk>/", views.disclosure, name="disclosure"),
    path("disclosures/<int:pk>/decide/", views.disclosure_decide, name="disclosure_decide"),
    path("disclosures/<int:pk>/release/", views.disclosure_release, name="disclosure_release"),
]
