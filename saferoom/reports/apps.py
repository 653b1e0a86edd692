from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "saferoom.reports"
    label = "reports"
    verbose_name = _("Reports and returns")

    def ready(self) -> None:
        # The rollups follow a client whose codes are merged (ADR 10).
        from saferoom.reports.receivers import rollups_follow_merge  # noqa: F401
