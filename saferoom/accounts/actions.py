"""Writes about how people log in: setting up and checking a second factor, backup codes, a
manager resetting a colleague's authenticator, personal PINs and switching user with one.
Each writes one audit event; a refusal raises ActionRefused and (apart from counting a wrong
code or PIN, which is the point) changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from saferoom.accounts import two_factor
from saferoom.accounts.models import StaffPin
from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.sites.access import sites_for
from saferoom.sites.models import Site


def confirm_enrolment(
    *, user: User, device_id: int, code: str, at: datetime | None = None
) -> tuple[TOTPDevice, list[str]]:
    """The first code from a newly set-up app proves it works: it becomes the person's only
    authenticator (an older one stops working) and they get new backup codes."""
    at = at or timezone.now()
    code = two_factor.normalise_code(code)
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, pk=device_id, confirmed=False)
            .first()
        )
        if device is None:
            raise ActionRefused(
                _("This set-up has already been finished or has expired. Start again."),
                code="stale",
            )
        if not (two_factor.is_app_code(code) and device.verify_token(code)):
            raise ActionRefused(
                _(
                    "That code did not match. Type the 6-digit code your app shows now "
                    "(it changes every 30 seconds), and check the phone's clock is right."
                ),
                code="wrong_code",
            )
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = two_factor.new_backup_codes(user)
        audit.record(action="auth.two_factor_enrolled", by=user, obj=user, at=at)
    return device, codes


def verify_code(*, user: User, code: str, at: datetime | None = None) -> Device:
    """The code from the person's app, or one of their backup codes (used up once used)."""
    at = at or timezone.now()
    code = two_factor.normalise_code(code)
    matched: Device | None = None
    if code and len(code) <= 16:
        model: type[Device] = TOTPDevice if two_factor.is_app_code(code) else StaticDevice
        # One transaction with the devices locked: django-otp's throttling (a growing delay
        # after each wrong code) and the one-use rule hold against parallel attempts.
        with transaction.atomic():
            for device in model.objects.filter(user=user, confirmed=True).select_for_update():
                if device.verify_token(code):
                    matched = device
                    break
    method = "backup_code" if isinstance(matched, StaticDevice) else "app"
    if matched is None:
        audit.record(action="auth.two_factor_failed", by=user, obj=user, at=at)
        raise ActionRefused(
            _(
                "That code did not match. Type the 6-digit code your app shows now, or one of "
                "your backup codes. After several wrong codes, wait a little before trying again."
            ),
            code="wrong_code",
        )
    audit.record(
        action="auth.two_factor_verified", by=user, obj=user, detail={"method": method}, at=at
    )
    return matched


def replace_backup_codes(*, user: User, at: datetime | None = None) -> list[str]:
    with transaction.atomic():
        codes = two_factor.new_backup_codes(user)
        audit.record(action="auth.backup_codes_replaced", by=user, obj=user, at=at)
    return codes


def reset_two_factor(*, user: User, by: User, site: Any = None, at: datetime | None = None) -> User:
    """For someone who lost their phone: their authenticator and backup codes are removed, so
    their next login sets up a new one. Their sessions lose the second factor at once."""
    from saferoom.sites.actions import may_manage_account

    if by.pk == user.pk:
        raise ActionRefused(
            _("You cannot reset your own two-step login. Ask another manager or administrator."),
            code="self",
        )
    if not may_manage_account(by, user):
        raise ActionRefused(
            _(
                "Only a manager of every site where this person works (or an administrator) "
                "can reset their two-step login."
            ),
            code="not_allowed",
        )
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        removed += StaticDevice.objects.filter(user=user).delete()[0]
        audit.record(
            action="auth.two_factor_reset",
            by=by,
            obj=user,
            site=site,
            detail={"removed": removed},
            at=at,
        )
    return user


# --- personal PINs and switching user ----------------------------------------------------


def may_use_pin(user: User) -> bool:
    """PIN switching is for the desk and the floor: roles that require two-factor login always
    log in with their password and code."""
    return bool(user.is_active) and not two_factor.requires_two_factor(user)


def set_pin(*, user: User, pin: str, at: datetime | None = None) -> StaffPin:
    at = at or timezone.now()
    if not may_use_pin(user):
        raise ActionRefused(
            _("Your role logs in with a password and a code, so it cannot use a PIN."),
            code="not_allowed",
        )
    with transaction.atomic():
        staff_pin, _created = StaffPin.objects.update_or_create(
            user=user,
            defaults={
                "pin_hash": make_password(pin),
                "set_at": at,
                "failed_attempts": 0,
                "locked_until": None,
            },
        )
        audit.record(action="auth.pin_set", by=user, obj=user, at=at)
    return staff_pin


def remove_pin(*, user: User, at: datetime | None = None) -> None:
    with transaction.atomic():
        if StaffPin.objects.filter(user=user).delete()[0]:
            audit.record(action="auth.pin_removed", by=user, obj=user, at=at)


def colleagues_for_switching(user: User) -> QuerySet[User]:
    """People who may take over a tablet ``user`` is logged in on: active, working at one of
    the same sites, with a PIN, and in no role that requires two-factor login."""
    site_ids = list(sites_for(user).values_list("pk", flat=True))
    network_ids = set(Site.objects.filter(pk__in=site_ids).values_list("network_id", flat=True))
    return (
        User.objects.filter(is_active=True, is_superuser=False, staff_pin__isnull=False)
        .filter(
            Q(memberships__site_id__in=site_ids)
            | Q(memberships__site__isnull=True, memberships__network_id__in=network_ids)
        )
        .exclude(pk=user.pk)
        .exclude(memberships__role__in=two_factor.TWO_FACTOR_ROLES)
        .distinct()
        .order_by("display_name", "username")
    )


def _cool_off_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def switch_user(*, from_user: User, to_user_id: int, pin: str, at: datetime | None = None) -> User:
    """Check ``pin`` for a colleague taking over ``from_user``'s tablet. Wrong PINs count
    towards a lockout of that colleague's PIN (never of the tablet or anyone else)."""
    at = at or timezone.now()
    colleague = colleagues_for_switching(from_user).filter(pk=to_user_id).first()
    if colleague is None:
        raise ActionRefused(
            _(
                "Choose a colleague from the list. Only desk and floor staff of this site who "
                "have set a PIN can switch in."
            ),
            code="not_a_colleague",
        )
    staff_pin = StaffPin.objects.get(user=colleague)
    if staff_pin.locked_until is not None and staff_pin.locked_until > at:
        audit.record(action="auth.pin_refused_locked_out", by=colleague, obj=colleague, at=at)
        raise ActionRefused(
            _(
                "Too many wrong PINs for %(name)s. Wait %(minutes)d minutes, or log in with "
                "the password."
            )
            % {"name": colleague, "minutes": _cool_off_minutes()},
            code="locked",
        )
    if not check_password(pin, staff_pin.pin_hash):
        with transaction.atomic():
            StaffPin.objects.filter(pk=staff_pin.pk).update(
                failed_attempts=F("failed_attempts") + 1
            )
            staff_pin.refresh_from_db()
            locked = staff_pin.failed_attempts >= settings.PIN_FAILURE_LIMIT
            if locked:
                StaffPin.objects.filter(pk=staff_pin.pk).update(
                    failed_attempts=0, locked_until=at + settings.AXES_COOLOFF_TIME
                )
            audit.record(
                action="auth.pin_locked_out" if locked else "auth.pin_failed",
                by=colleague,
                obj=colleague,
                detail={"tablet_user": from_user.get_username()},
                at=at,
            )
        if locked:
            raise ActionRefused(
                _("Too many wrong PINs for %(name)s: their PIN is locked for %(minutes)d minutes.")
                % {"name": colleague, "minutes": _cool_off_minutes()},
                code="locked",
            )
        raise ActionRefused(_("That PIN is not right. Try again."), code="wrong_pin")
    with transaction.atomic():
        StaffPin.objects.filter(pk=staff_pin.pk).update(failed_attempts=0, locked_until=None)
        audit.record(
            action="auth.switched_user",
            by=colleague,
            obj=colleague,
            detail={"from": from_user.get_username()},
            at=at,
        )
    return colleague


# --- where a person is logged in ---------------------------------------------------------


def end_login(*, user: User, ref: str, current_key: str | None, at: datetime | None = None) -> str:
    """End one of ``user``'s other logins (a tablet left logged in, or lost): whoever holds it
    is sent to the login page at their next tap. Returns the device it was on."""
    from saferoom.accounts.sessions import device_label, live_sessions, ref_of

    with transaction.atomic():
        rows = [
            row
            for row in live_sessions(user).select_for_update()
            if ref_of(row.session_key) == str(ref)
        ]
        if not rows:
            raise ActionRefused(
                _("That login has already ended. The list below is up to date."), code="gone"
            )
        row = rows[0]
        if row.session_key == current_key:
            raise ActionRefused(
                _("That is this device. To end this login, use Log out."), code="current"
            )
        device = device_label(row.device)
        row.delete()
        audit.record(action="auth.login_ended", by=user, obj=user, detail={"device": device}, at=at)
    return device


def end_other_logins(*, user: User, current_key: str | None, at: datetime | None = None) -> int:
    """End every login of ``user`` except the one they are using. Returns how many ended."""
    from saferoom.accounts.models import LoginSession
    from saferoom.accounts.sessions import live_sessions

    with transaction.atomic():
        others = LoginSession.objects.filter(user=user).exclude(session_key=current_key or "")
        # Logins already past their idle or absolute limit are cleared too, but not counted.
        ended = live_sessions(user).exclude(session_key=current_key or "").count()
        others.delete()
        if ended:
            audit.record(
                action="auth.logins_ended", by=user, obj=user, detail={"ended": ended}, at=at
            )
    return ended


def end_staff_logins(*, user: User, by: User, site: Any = None, at: datetime | None = None) -> int:
    """A manager ends every login of a colleague (a stolen tablet, someone who left in a
    hurry). The colleague can log in again with their password; to stop that too, deactivate
    the account. Returns how many logins ended."""
    from saferoom.accounts.models import LoginSession
    from saferoom.accounts.sessions import live_sessions
    from saferoom.sites.actions import may_manage_account

    if by.pk == user.pk:
        raise ActionRefused(
            _("To end your own logins, use Where you are logged in on your account page."),
            code="self",
        )
    if not may_manage_account(by, user):
        raise ActionRefused(
            _(
                "Only a manager of every site where this person works (or an administrator) "
                "can log them out."
            ),
            code="not_allowed",
        )
    with transaction.atomic():
        ended = live_sessions(user).count()
        LoginSession.objects.filter(user=user).delete()
        audit.record(
            action="auth.logins_ended_by_manager",
            by=by,
            obj=user,
            site=site,
            detail={"ended": ended},
            at=at,
        )
    return ended
