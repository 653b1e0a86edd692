"""Pages of your own account (two-step login, PIN, switching user, where you are logged in), a
manager's reset of a colleague's two-step login or ending of their logins from the site's staff
settings, and enrolled tablets: the site's list, and "Enrol this tablet" on the tablet itself."""

from django.urls import path

from saferoom.accounts import views, views_tablets

app_name = "accounts"

urlpatterns = [
    path("account/", views.security, name="security"),
    path("account/two-factor/code/", views.verify, name="verify"),
    path("account/two-factor/set-up/", views.enrol, name="enrol"),
    path("account/two-factor/backup-codes/", views.backup_codes, name="backup_codes"),
    path("account/two-factor/tablet/", views_tablets.tablet_needed, name="tablet_needed"),
    path("tablet/enrol/", views_tablets.tablet_enrol, name="tablet_enrol"),
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
    path("sites/<slug:site>/settings/tablets/", views_tablets.tablets_page, name="tablets"),
    path(
        "sites/<slug:site>/settings/tablets/<int:pk>/revoke/",
        views_tablets.tablet_revoke,
        name="tablet_revoke",
    ),
]
