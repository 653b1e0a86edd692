"""A member of staff's personal PIN, for switching user on a shared tablet. The TOTP devices and
backup codes of two-factor login are django-otp's own models."""

from __future__ import annotations

from django.conf import settings
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
