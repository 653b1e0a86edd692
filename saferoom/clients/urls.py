from django.urls import path

from saferoom.clients import views

app_name = "clients"

urlpatterns = [
    path("", views.find, name="find"),
]
