"""The desk's addresses, under /sites/<site>/desk/. No personal data: visits and clients are
addressed by internal number only."""

from django.urls import path

from saferoom.floor import views

app_name = "floor"

urlpatterns = [
    path("", views.queue_view, name="queue"),
    path("checkin/anonymous/", views.checkin_anonymous, name="checkin_anonymous"),
    path("checkin/<int:client>/", views.checkin, name="checkin"),
    path("turnaway/", views.turnaway, name="turnaway"),
    path("visits/<int:pk>/left/", views.leave_queue, name="leave_queue"),
    path("visits/<int:pk>/checkout/", views.check_out, name="check_out"),
]
