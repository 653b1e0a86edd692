"""Referral pages of a site, under /sites/<site>/referrals/. URLs carry only ids."""

from django.urls import path

from saferoom.care.referrals import views

app_name = "referrals"
urlpatterns = [
    path("", views.due, name="due"),
    path("new/", views.new, name="new"),
    path("visit/<int:pk>/", views.visit_referrals, name="visit"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/follow-up/", views.follow_up, name="follow_up"),
    path("<int:pk>/amend/", views.amend, name="amend"),
    path("<int:pk>/identity/new/", views.identity_new, name="identity_new"),
    path("<int:pk>/identity/link/", views.identity_link, name="identity_link"),
    path("identity/<int:pk>/", views.identity_open, name="identity_open"),
    path("identity/<int:pk>/withdraw/", views.identity_withdraw, name="identity_withdraw"),
    path("identity-access/", views.access, name="access"),
    path("identity-access/<int:pk>/end/", views.access_revoke, name="access_revoke"),
]
