from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "saferoom.core"
    label = "core"
    verbose_name = "saferoom core"

    def ready(self) -> None:
        from saferoom.core.clinical import protect_records

        # Clients, clinical records and the accounting of disclosures are never deleted.
        protect_records()
