from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "saferoom.core"
    label = "core"
    verbose_name = "saferoom core"
