from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SuppliesConfig(AppConfig):
    name = "saferoom.care.supplies"
    label = "supplies"
    verbose_name = _("Supplies and services")
