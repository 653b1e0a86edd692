from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "saferoom.accounts"
    label = "accounts"
    verbose_name = "saferoom accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        # Connects the lockout signal to the audit log.
        from saferoom.accounts import lockout  # noqa: F401
        from saferoom.accounts.sessions import note_login

        # Every login notes its device and start, for "Where you are logged in".
        user_logged_in.connect(note_login, dispatch_uid="saferoom.accounts.note_login")
