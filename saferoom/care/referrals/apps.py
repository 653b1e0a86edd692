from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "saferoom.care.referrals"
    label = "referrals"
    verbose_name = _("Referrals")

    def ready(self) -> None:
        # Keep this area's records with the person when two client codes are merged.
        from saferoom.care.referrals.receivers import move_to_kept_client  # noqa: F401
