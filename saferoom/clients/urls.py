"""Client registry pages, under /sites/<site>/clients/. Codes never appear in these URLs."""

from django.urls import path

from saferoom.clients import views, views_breakglass

app_name = "clients"

urlpatterns = [
    path("", views.find, name="find"),
    path("register/", views.register, name="register"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/intake/", views.intake, name="intake"),
    path("<int:pk>/bans/new/", views.ban_new, name="ban_new"),
    path("<int:pk>/bans/<int:ban>/lift/", views.ban_lift, name="ban_lift"),
    path("<int:pk>/merge/", views.merge, name="merge"),
    path("<int:pk>/break-glass/", views_breakglass.break_glass, name="break_glass"),
]
