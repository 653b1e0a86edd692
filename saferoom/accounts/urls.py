"""Pages of your own account (two-step login, PIN, switching user, where you are logged in), and
a manager's reset of a colleague's two-step login or ending of their logins from the site's
staff settings."""

from django.urls import path

from saferoom.accounts import views

app_name = "accounts"

urlpatterns = [
    path("account/", views.security, name="security"),
    path("account/two-factor/code/", views.verify, name="verify"),
    path("account/two-factor/set-up/", views.enrol, name="enrol"),
    path("account/two-factor/backup-codes/", views.backup_codes, name="backup_codes"),
    path("account/pin/", views.pin, name="pin"),
    path("account/switch/", views.switch, name="switch"),
    path("account/logins/", views.logins, name="logins"),
    path(
        "sites/<slug:site>/settings/staff/<int:pk>/two-factor/reset/",
        views.staff_two_factor_reset,
        name="staff_two_factor_reset",
    ),
    path(
        "sites/<slug:site>/settings/staff/<int:pk>/logins/end/",
        views.staff_logins_end,
        name="staff_logins_end",
    ),
]
