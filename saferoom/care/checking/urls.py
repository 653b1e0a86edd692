"""Drug checking and drug alert pages of a site."""

from django.urls import path

from saferoom.care.checking import views

app_name = "checking"
urlpatterns = [
    path("", views.checks, name="checks"),
    path("new/", views.check_new, name="check_new"),
    path("visits/<int:pk>/new/", views.check_new_for_visit, name="check_new_for_visit"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/new/", views.alert_new, name="alert_new"),
    path("alerts/banner/", views.banner, name="banner"),
    path("alerts/<int:pk>/withdraw/", views.alert_withdraw, name="alert_withdraw"),
]
