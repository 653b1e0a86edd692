from django.urls import path

from saferoom.floor import views

app_name = "floor"

urlpatterns = [
    path("", views.queue, name="queue"),
]
