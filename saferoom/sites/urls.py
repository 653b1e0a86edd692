from django.urls import path

from saferoom.sites import views

app_name = "sites"

urlpatterns = [
    path("settings/", views.settings_home, name="settings"),
]
