from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CheckingConfig(AppConfig):
    name = "saferoom.care.checking"
    label = "checking"
    verbose_name = _("Drug checking and alerts")
