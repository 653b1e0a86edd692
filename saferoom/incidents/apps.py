from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "saferoom.incidents"
    label = "incidents"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        # Keep this area's records with the person when two client codes are merged.
        from saferoom.incidents.receivers import move_to_kept_client  # noqa: F401
