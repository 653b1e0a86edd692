"""Writes about how people log in: setting up and checking a second factor, backup codes, a
manager resetting a colleague's authenticator, enrolling and revoking a site's tablets, personal
PINs and switching user with one. Each writes one audit event; a refusal raises ActionRefused and
(apart from counting a wrong code or PIN, which is the point) changes nothing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
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

from saferoom.accounts import tablets, two_factor
from saferoom.accounts.models import EnrolledTablet, StaffPin, TabletEnrolmentCode
from saferoom.core import audit, idempotency
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent, User
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


# --- enrolled tablets ---------------------------------------------------------------------

TABLET_LABEL_MAX = 80


def may_manage_tablets(by: User | None, site: Site) -> bool:
    """Managers and administrators of the site (or its network); the system (the demo)."""
    from saferoom.sites.actions import may_manage_site

    return may_manage_site(by, site)


def create_tablet_code(
    *,
    site: Site,
    label: str,
    by: User | None,
    idempotency_key: uuid.UUID | str | None = None,
    valid_for: timedelta | None = None,
    at: datetime | None = None,
) -> tuple[TabletEnrolmentCode, str]:
    """A one-time code that enrols one tablet for ``site`` under the name ``label``; returns the
    row and the code (shown once: only its keyed hash is kept). The same form sent again gives a
    new code on the same row (the first one was never seen), never a second row."""
    at = at or timezone.now()
    label = " ".join(str(label).split())
    if not label:
        raise ActionRefused(
            _("Name the tablet, for example “Front desk tablet 1”, so you can tell it apart."),
            code="no_label",
        )
    if len(label) > TABLET_LABEL_MAX:
        raise ActionRefused(
            _("Keep the name under %(n)d characters.") % {"n": TABLET_LABEL_MAX}, code="too_long"
        )
    if not may_manage_tablets(by, site):
        raise ActionRefused(
            _("Only a manager of %(site)s can enrol its tablets.") % {"site": site.name},
            code="not_allowed",
        )
    valid_for = valid_for or timedelta(minutes=settings.TABLET_CODE_MINUTES)
    details = {"site": site.pk, "label": label}
    key = None
    if idempotency_key is not None and by is not None:
        key = idempotency.parse_key(idempotency_key)
    with transaction.atomic():
        earlier = None
        if key is not None and by is not None:
            earlier_id = idempotency.replayed(
                key=key, by=by, action="tablet.code_created", details=details
            )
            if earlier_id is not None:
                earlier = TabletEnrolmentCode.objects.select_for_update().get(pk=earlier_id)
        if earlier is not None and earlier.used_at is not None:
            raise ActionRefused(
                _("That code has already enrolled “%(label)s”. Make a new one for another tablet.")
                % {"label": earlier.label},
                code="used",
            )
        for _attempt in range(5):
            code = tablets.new_code()
            if not TabletEnrolmentCode.objects.filter(code_hash=tablets.code_hash(code)).exists():
                break
        else:  # pragma: no cover - five collisions in a row among 27^8 codes do not happen
            raise ActionRefused(_("Could not make a code. Try again."), code="collision")
        if earlier is not None:
            # A double tap or a reload: the code on the page is the one that works.
            earlier.code_hash = tablets.code_hash(code)
            earlier.expires_at = at + valid_for
            earlier.save(update_fields=["code_hash", "expires_at"])
            row = earlier
        else:
            row = TabletEnrolmentCode.objects.create(
                site=site,
                label=label,
                code_hash=tablets.code_hash(code),
                created_by=by,
                created_at=at,
                expires_at=at + valid_for,
            )
            if key is not None and by is not None:
                idempotency.remember(
                    key=key, by=by, action="tablet.code_created", details=details, obj=row
                )
        audit.record(
            action="tablet.code_created",
            by=by,
            obj=row,
            site=site,
            detail={"label": label, "expires_at": row.expires_at.isoformat()},
            at=at,
        )
    return row, code


def _enrolment_paused(at: datetime) -> bool:
    """Too many wrong codes across the service lately: someone may be guessing. Enrolling pauses
    for the login cool-off; tablets already enrolled, and every login, carry on."""
    recent = AuditEvent.objects.filter(
        action="tablet.enrolment_refused", at__gt=at - settings.AXES_COOLOFF_TIME, at__lte=at
    ).count()
    return bool(recent >= settings.TABLET_CODE_FAILURE_LIMIT)


def _refuse_enrolment(
    message: str, *, reason: str, at: datetime, code_row: TabletEnrolmentCode | None = None
) -> ActionRefused:
    with transaction.atomic():
        audit.record(
            action="tablet.enrolment_refused",
            by=None,
            obj=code_row,
            site=code_row.site if code_row is not None else None,
            detail={"reason": reason},
            at=at,
        )
    return ActionRefused(message, code=reason)


def enrol_tablet(
    *,
    code: str,
    attempt: str,
    replacing: EnrolledTablet | None = None,
    at: datetime | None = None,
) -> tuple[EnrolledTablet, str]:
    """Enrol the device that typed ``code``: returns the new tablet and its secret, for the
    device's cookie (never stored). ``attempt`` is the enrolment form's own key: the same form
    sent twice gets the same tablet (with a new secret), anyone else gets "already used".
    A device that was another enrolled tablet (``replacing``) stops being that one."""
    at = at or timezone.now()
    typed = tablets.normalise_code(code)
    if _enrolment_paused(at):
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        raise ActionRefused(
            _(
                "Too many wrong codes have been typed lately, so enrolling tablets is paused "
                "for up to %(minutes)d minutes. Tablets already enrolled work as usual."
            )
            % {"minutes": minutes},
            code="paused",
        )
    if not tablets.looks_like_a_code(typed):
        raise _refuse_enrolment(
            _(
                "That is not an enrolment code. A code has 8 letters and numbers, like "
                "K7FQ-9XMA: type it as the manager's screen shows it."
            ),
            reason="malformed",
            at=at,
        )
    attempt_hash = tablets.attempt_hash(attempt) if attempt else ""
    secret = tablets.new_secret()
    row = (
        TabletEnrolmentCode.objects.select_related("site", "tablet", "created_by")
        .filter(code_hash=tablets.code_hash(typed))
        .first()
    )
    if (
        row is not None
        and row.tablet is not None
        and row.used_at is not None
        and attempt_hash
        and row.used_with == attempt_hash
        and row.tablet.revoked_at is None
        and row.used_at > at - timedelta(minutes=settings.TABLET_CODE_MINUTES)
    ):
        # The same form sent again (a double tap): the same tablet, with the secret this
        # answer carries, as the first answer's cookie may never have reached the tablet.
        with transaction.atomic():
            EnrolledTablet.objects.filter(pk=row.tablet.pk).update(
                secret_hash=tablets.secret_hash(secret)
            )
        return row.tablet, secret
    if row is None:
        raise _refuse_enrolment(
            _(
                "That code is not right. Check it against the manager's screen and type it "
                "again, or ask them for a new one."
            ),
            reason="wrong",
            at=at,
        )
    if row.used_at is not None:
        raise _refuse_enrolment(
            _("That code has already been used. Ask a manager for a new one."),
            reason="used",
            at=at,
            code_row=row,
        )
    if row.expires_at <= at:
        raise _refuse_enrolment(
            _(
                "That code has expired: a code works for %(minutes)d minutes. Ask a manager "
                "for a new one."
            )
            % {"minutes": settings.TABLET_CODE_MINUTES},
            reason="expired",
            at=at,
            code_row=row,
        )
    with transaction.atomic():
        new_tablet = EnrolledTablet.objects.create(
            site=row.site,
            label=row.label,
            secret_hash=tablets.secret_hash(secret),
            enrolled_by=row.created_by,
            enrolled_at=at,
        )
        # Used once: only the request that marks it used goes on (a parallel one finds it used).
        claimed = TabletEnrolmentCode.objects.filter(
            pk=row.pk, used_at__isnull=True, expires_at__gt=at
        ).update(used_at=at, used_with=attempt_hash, tablet=new_tablet)
        tablet = new_tablet if claimed else None
        if tablet is None:
            transaction.set_rollback(True)
        else:
            replaced = 0
            if replacing is not None:
                replaced = EnrolledTablet.objects.filter(
                    pk=replacing.pk, revoked_at__isnull=True
                ).update(revoked_at=at)
            audit.record(
                action="tablet.enrolled",
                by=row.created_by,
                obj=tablet,
                site=row.site,
                detail={
                    "label": tablet.label,
                    "code": row.pk,
                    "replaces": replacing.pk if replacing is not None and replaced else None,
                },
                at=at,
            )
    if tablet is None:
        raise _refuse_enrolment(
            _("That code has already been used. Ask a manager for a new one."),
            reason="used",
            at=at,
            code_row=row,
        )
    return tablet, secret


def revoke_tablet(*, tablet: EnrolledTablet, by: User | None, at: datetime | None = None) -> int:
    """Stop a tablet counting as a second factor, now and for good, and end every login open
    on it: whoever holds it is sent to the login page at their next tap. Returns how many
    logins ended."""
    from saferoom.accounts.models import LoginSession

    at = at or timezone.now()
    if not may_manage_tablets(by, tablet.site):
        raise ActionRefused(
            _("Only a manager of %(site)s can revoke its tablets.") % {"site": tablet.site.name},
            code="not_allowed",
        )
    with transaction.atomic():
        updated = EnrolledTablet.objects.filter(pk=tablet.pk, revoked_at__isnull=True).update(
            revoked_at=at, revoked_by=by
        )
        tablet.refresh_from_db()
        if not updated:
            raise ActionRefused(
                _("“%(label)s” was already revoked.") % {"label": tablet.label},
                code="already_revoked",
            )
        ended = LoginSession.objects.filter(tablet_id=tablet.pk).delete()[0]
        audit.record(
            action="tablet.revoked",
            by=by,
            obj=tablet,
            site=tablet.site,
            detail={"label": tablet.label, "logins_ended": ended},
            at=at,
        )
    return int(ended)


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


def colleagues_for_switching(user: User, *, site: Site | None = None) -> QuerySet[User]:
    """People who may take over a tablet ``user`` is logged in on: active, working at one of
    the same sites (at ``site``, the tablet's, when given), with a PIN, and in no role that
    requires two-factor login."""
    site_ids = list(sites_for(user).values_list("pk", flat=True))
    if site is not None:
        site_ids = [pk for pk in site_ids if pk == site.pk]
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


def switch_user(
    *,
    from_user: User,
    to_user_id: int,
    pin: str,
    site: Site | None = None,
    at: datetime | None = None,
) -> User:
    """Check ``pin`` for a colleague taking over ``from_user``'s tablet (enrolled for ``site``,
    when given). Wrong PINs count towards a lockout of that colleague's PIN (never of the tablet
    or anyone else)."""
    at = at or timezone.now()
    colleague = colleagues_for_switching(from_user, site=site).filter(pk=to_user_id).first()
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
