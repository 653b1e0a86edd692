from django.apps import AppConfig


class FloorConfig(AppConfig):
    name = "saferoom.floor"
    label = "floor"
