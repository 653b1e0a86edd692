"""A member of staff's personal PIN, for switching user on a shared tablet, the logins
(sessions) a person can see and end, and the tablets a manager enrolled for a site (the second
factor of desk and floor staff, ADR 14) with the one-time codes that enrol them. The TOTP devices
and backup codes of two-factor login are django-otp's own models."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models import Q
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
    # The enrolled tablet the login is on (an EnrolledTablet id, no constraint for the same
    # reason): revoking the tablet ends these logins at once.
    tablet_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        db_table = "accounts_loginsession"
        verbose_name = _("login")
        verbose_name_plural = _("logins")

    @classmethod
    def get_session_store_class(cls) -> type[SessionBase]:
        from saferoom.accounts.sessions import SessionStore

        return SessionStore


class EnrolledTablet(models.Model):
    """A shared tablet (or desk computer) a manager enrolled for one site: for desk and floor
    staff without an authenticator app, the "something you have" of two-factor login
    (``saferoom.accounts.tablets``). The device holds a long random secret in a cookie; only its
    SHA-256 is kept here, so a copy of the database enrols nothing. Revoked, never deleted."""

    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="tablets")
    label = models.CharField(_("name"), max_length=80)
    secret_hash = models.CharField(max_length=64, unique=True)
    # Empty when enrolled with a code the system made (the demo).
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    enrolled_at = models.DateTimeField()
    # Noted at most once an hour: enough to tell a tablet in use from one gone missing.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Empty when the tablet was enrolled again (the enrolment that replaced it is audited).
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("enrolled tablet")
        ordering = ["label", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_by__isnull=True) | Q(revoked_at__isnull=False),
                name="enrolledtablet_revoked_by_needs_revoked_at",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def audit_label(self) -> str:
        return f"tablet {self.pk} ({self.label})"


class TabletEnrolmentCode(models.Model):
    """A one-time code a manager makes to enrol a tablet for their site: 8 characters to type
    on the tablet, working once and for minutes. Only a keyed hash (HMAC with the secret key) is
    kept: the code is short, so a plain hash could be reversed by trying every code."""

    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="+")
    label = models.CharField(_("name of the tablet"), max_length=80)
    code_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    tablet = models.OneToOneField(
        EnrolledTablet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enrolment_code",
    )
    # A hash of the enrolment form's own key: the same form sent twice (a double tap) gets the
    # same tablet again, never a second one, and nobody else can use the code a second time.
    used_with = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("tablet enrolment code")
        constraints = [
            models.CheckConstraint(
                condition=Q(used_at__isnull=True, tablet__isnull=True)
                | Q(used_at__isnull=False, tablet__isnull=False),
                name="tabletcode_used_at_with_tablet",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="tabletcode_expires_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"enrolment code for {self.label}"

    def audit_label(self) -> str:
        return f"enrolment code {self.pk} ({self.label})"
