from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "saferoom.accounts"
    label = "accounts"
    verbose_name = "saferoom accounts"

    def ready(self) -> None:
        # Connects the lockout signal to the audit log.
        from saferoom.accounts import lockout  # noqa: F401
