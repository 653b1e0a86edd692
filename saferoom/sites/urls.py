"""Site configuration pages, under /sites/<site>/settings/."""

from django.urls import path

from saferoom.sites import views, views_security

app_name = "sites"

urlpatterns = [
    path("settings/", views.settings_home, name="settings"),
    path("settings/rules/", views.rules, name="rules"),
    path("settings/hours/", views.hours, name="hours"),
    path("settings/spaces/", views.spaces, name="spaces"),
    path("settings/spaces/new/", views.space_new, name="space_new"),
    path("settings/spaces/<int:pk>/", views.space_edit, name="space_edit"),
    path(
        "settings/spaces/<int:pk>/out-of-service/",
        views.space_out_of_service,
        name="space_out_of_service",
    ),
    path("settings/spaces/<int:pk>/return/", views.space_return, name="space_return"),
    path("settings/catalogue/<slug:kind>/", views.catalogue, name="catalogue"),
    path("settings/catalogue/<slug:kind>/<int:pk>/", views.catalogue_edit, name="catalogue_edit"),
    path(
        "settings/catalogue/<slug:kind>/<int:pk>/retire/",
        views.catalogue_retire,
        name="catalogue_retire",
    ),
    path(
        "settings/catalogue/<slug:kind>/<int:pk>/restore/",
        views.catalogue_restore,
        name="catalogue_restore",
    ),
    path("settings/network/", views.network, name="network"),
    path("settings/staff/", views.staff, name="staff"),
    path("settings/staff/new/", views.staff_new, name="staff_new"),
    path("settings/staff/add-existing/", views.staff_add_existing, name="staff_add_existing"),
    path("settings/staff/<int:pk>/", views.staff_edit, name="staff_edit"),
    path("settings/staff/<int:pk>/password/", views.staff_password, name="staff_password"),
    path("settings/staff/<int:pk>/deactivate/", views.staff_deactivate, name="staff_deactivate"),
    path("settings/staff/<int:pk>/reactivate/", views.staff_reactivate, name="staff_reactivate"),
    path("security/alerts/", views_security.alerts, name="security_alerts"),
    path(
        "security/alerts/<int:pk>/review/",
        views_security.alert_review,
        name="security_alert_review",
    ),
]
