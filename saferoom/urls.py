"""Every URL of saferoom. Site pages live under /sites/<site>/ and are site-scoped."""

from django.urls import include, path

from saferoom.accounts import views as accounts_views
from saferoom.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    path("login/", accounts_views.login_view, name="login"),
    path("logout/", accounts_views.logout_view, name="logout"),
    path("account/password/", accounts_views.password_change_view, name="password_change"),
    path("", include("saferoom.accounts.urls")),
    path("sites/<slug:site>/", include("saferoom.sites.urls")),
    path("sites/<slug:site>/clients/", include("saferoom.clients.urls")),
    path("sites/<slug:site>/desk/", include("saferoom.floor.urls")),
    path("sites/<slug:site>/floor/", include("saferoom.floor.urls_board")),
    path("sites/<slug:site>/incidents/", include("saferoom.incidents.urls")),
    path("sites/<slug:site>/care/", include("saferoom.care.supplies.urls")),
    path("sites/<slug:site>/referrals/", include("saferoom.care.referrals.urls")),
    path("sites/<slug:site>/drug-checking/", include("saferoom.care.checking.urls")),
    path("sites/<slug:site>/evaluation/", include("saferoom.evaluation.urls")),
    path("sites/<slug:site>/reports/", include("saferoom.reports.urls")),
    path("sites/<slug:site>/governance/", include("saferoom.governance.urls")),
    path("sites/<slug:site>/returns/", include("saferoom.reports.urls_returns")),
    path("sites/<slug:site>/costs/", include("saferoom.reports.urls_costs")),
    path("networks/<int:network>/reports/", include("saferoom.reports.urls_network")),
    path("api/v1/", include("saferoom.api.urls")),
]

handler400 = "saferoom.core.views.bad_request"
handler403 = "saferoom.core.views.permission_denied"
handler404 = "saferoom.core.views.page_not_found"
handler500 = "saferoom.core.views.server_error"
