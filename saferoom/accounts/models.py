"""A member of staff's personal PIN, for switching user on a shared tablet, and the logins
(sessions) a person can see and end. The TOTP devices and backup codes of two-factor login are
django-otp's own models."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffPin(models.Model):
    """A hashed PIN (the password hasher, so Argon2 in production) and its failed attempts.
    Too many wrong PINs lock it until ``locked_until``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_pin"
    )
    pin_hash = models.CharField(_("PIN (hashed)"), max_length=128)
    set_at = models.DateTimeField()
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("personal PIN")

    def __str__(self) -> str:
        return f"PIN of user {self.user_id}"


class LoginSession(AbstractBaseSession):
    """A login: Django's database session with the columns that let a person see where they
    are logged in and end a login on a lost tablet (``saferoom.accounts.sessions``). The extra
    columns are copied from the session's data each time Django saves it; the device is a
    browser and system name from the user agent, never an IP address."""

    # No database constraint: saving a session must never make a request fail.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        db_constraint=False,
        related_name="login_sessions",
    )
    device = models.CharField(_("device"), max_length=80, blank=True)
    started_at = models.DateTimeField(null=True)
    last_seen_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "accounts_loginsession"
        verbose_name = _("login")
        verbose_name_plural = _("logins")

    @classmethod
    def get_session_store_class(cls) -> type[SessionBase]:
        from saferoom.accounts.sessions import SessionStore

        return SessionStore
