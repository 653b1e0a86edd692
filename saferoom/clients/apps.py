from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "saferoom.clients"
    label = "clients"
