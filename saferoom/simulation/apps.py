from django.apps import AppConfig


class SimulationConfig(AppConfig):
    name = "saferoom.simulation"
    label = "simulation"
