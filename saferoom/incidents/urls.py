"""Incident pages of a site: the emergency screen, records, timelines and review."""

from __future__ import annotations

from django.urls import path

from saferoom.incidents import views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("review/", views.review_queue, name="review"),
    path("new/", views.new, name="new"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/emergency/", views.screen, name="screen"),
    path("<int:pk>/timeline/", views.timeline, name="timeline"),
    path("<int:pk>/tap/", views.tap, name="tap"),
    path("<int:pk>/kind/", views.kind, name="kind"),
    path("<int:pk>/outcome/", views.outcome, name="outcome"),
    path("<int:pk>/note/", views.note, name="note"),
    path("<int:pk>/close/", views.close, name="close"),
    path("<int:pk>/amend/", views.amend, name="amend"),
    path("<int:pk>/amend-outcome/", views.amend_outcome, name="amend_outcome"),
    path("<int:pk>/steps/<int:step>/amend/", views.amend_intervention, name="amend_intervention"),
]
