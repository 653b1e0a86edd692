from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SuppliesConfig(AppConfig):
    name = "saferoom.care.supplies"
    label = "supplies"
    verbose_name = _("Supplies and services")

    def ready(self) -> None:
        # Keep this area's records with the person when two client codes are merged.
        from saferoom.care.supplies.receivers import move_to_kept_client  # noqa: F401
