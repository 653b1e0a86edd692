"""The floor board's addresses, under /sites/<site>/floor/. No personal data: sessions,
visits, escalations and stops travel as internal numbers, in POST bodies or the path."""

from django.urls import path

from saferoom.floor import views_board as views

app_name = "board"

urlpatterns = [
    path("", views.board_view, name="board"),
    path("poll/", views.poll, name="poll"),
    path("assign/", views.assign, name="assign"),
    path("next-free/", views.next_free, name="next_free"),
    path("check/", views.check, name="check"),
    path("end/", views.end, name="end"),
    path("cleaned/", views.cleaned, name="cleaned"),
    path("checkout/", views.checkout, name="checkout"),
    path("emergency/", views.emergency, name="emergency"),
    path("sessions/<int:pk>/emergency/", views.emergency_view, name="emergency_view"),
    path("shift-lead/", views.shift_lead, name="shift_lead"),
    path("acknowledge/", views.acknowledge, name="ack"),
    path("handover/", views.handover, name="handover"),
    path("stops/", views.stops, name="stops"),
    path("stops/close/", views.stop_close, name="stop_close"),
]
