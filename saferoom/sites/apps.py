from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "saferoom.sites"
    label = "sites"
    verbose_name = "sites and their configuration"
