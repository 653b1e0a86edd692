"""Logging in and out, two-factor login (set up, code, backup codes), personal PINs and
switching user on a shared tablet, where you are logged in (ending a login on a lost tablet),
and a manager resetting a colleague's authenticator or ending their logins. Enrolled tablets
have their own pages (``views_tablets``).

The password step is Django's login view: its form passes the request to ``authenticate``, so
the lockout backend sees every attempt. Everyone is logged in after the password but held on the
code page, or on the page saying the device is not an enrolled tablet of their site
(``TwoFactorRequiredMiddleware``), until their second factor is there."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from saferoom.accounts import actions, sessions, tablets, two_factor
from saferoom.accounts.forms import CodeForm, EnrolForm, LoginForm, PinForm, SwitchForm
from saferoom.accounts.middleware import two_factor_exempt
from saferoom.accounts.models import StaffPin
from saferoom.core import audit
from saferoom.core.access import public, roles
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import ALL_ROLES, Role
from saferoom.sites.access import access_staff_member, site_view
from saferoom.sites.models import Site

# The backend that logs a PIN switch in (a PIN is checked by our action, not by a backend).
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _user(request: HttpRequest) -> User:
    # Only called behind a login check; OTPMiddleware wraps the user in a lazy object.
    return cast(User, request.user)


def _verified(request: HttpRequest) -> bool:
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified is not None and is_verified())


def any_signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Any logged-in person, with or without a role (LoginRequiredMiddleware turns the anonymous
    away): the steps of logging in must work before anything else does."""
    view.saferoom_roles = frozenset(ALL_ROLES)  # type: ignore[attr-defined]
    return view


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home")


def _step_url(step: str, next_url: str) -> str:
    return f"{reverse(two_factor.STEP_URLS[step])}?{urlencode({'next': next_url})}"


# --- the password step, and logging out -------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["expired"] = self.request.GET.get("expired") == "1"
        context["tablet"] = tablets.tablet_of(self.request, note_seen=False)
        context["tablets_required"] = tablets.required()
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        auth_login(self.request, user)  # a new session key: nothing from before carries over
        self.request.session[two_factor.AUTH_METHOD_KEY] = "password"
        audit.record(
            action="auth.login",
            by=user,
            detail={
                "device": sessions.device_label(self.request.session.get(sessions.DEVICE_KEY, ""))
            },
        )
        next_url = self.get_success_url()
        step = two_factor.pending_step(self.request, fresh=True)
        if step is not None:
            return redirect(_step_url(step, next_url))
        return redirect(next_url)

    def form_invalid(self, form: Any) -> HttpResponse:
        if not getattr(self.request, "axes_locked_out", False):
            # A failed password; the lockout page's own events are in saferoom.accounts.lockout.
            username = self.request.POST.get("username", "")
            user = User.objects.filter(username=username).first() if username else None
            audit.record(
                action="auth.login_failed",
                by=user,
                obj=user,
                detail={"known_username": user is not None},
            )
        return super().form_invalid(form)


login_view = public(LoginView.as_view())


@public
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit.record(action="auth.logout", by=_user(request))
    logout(request)  # deletes the session on the server: its cookie is worthless now
    messages.info(request, _("You have logged out."))
    return redirect("login")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change.html"

    def get_success_url(self) -> str:
        return reverse("home")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit.record(action="auth.password_changed", by=_user(self.request))
        messages.success(self.request, _("Your password has been changed."))
        return response


password_change_view = roles(*ALL_ROLES)(PasswordChangeView.as_view())


# --- two-factor login ---------------------------------------------------------------------


@two_factor_exempt
@any_signed_in
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The code step after the password."""
    user = _user(request)
    next_url = _next_url(request)
    if _verified(request):
        return redirect(next_url)
    state = two_factor.state(request, fresh=True)
    if not state.enrolled:
        # No app to ask a code of: set one up (the wide roles), move to an enrolled tablet, or
        # carry on.
        step = state.step(request.session.get(two_factor.AUTH_METHOD_KEY))
        return redirect(_step_url(step, next_url) if step else next_url)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = actions.verify_code(user=user, code=form.cleaned_data["code"])
        except ActionRefused as refusal:
            form.add_error("code", refusal.message)
        else:
            otp_login(request, device)
            request.session.cycle_key()
            if isinstance(device, StaticDevice):
                left = two_factor.backup_codes_left(user)
                messages.warning(
                    request,
                    _(
                        "You used a backup code; %(left)d are left. Make new ones from your "
                        "account page if you are running low."
                    )
                    % {"left": left},
                )
            return redirect(next_url)
    return render(request, "accounts/verify.html", {"form": form, "next": next_url})


@two_factor_exempt
@any_signed_in
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the code (or type the secret), then type a code."""
    user = _user(request)
    next_url = _next_url(request)
    state = two_factor.state(request, fresh=True)
    auth_method = request.session.get(two_factor.AUTH_METHOD_KEY)
    if not _verified(request) and state.step(auth_method) == "tablet":
        # An app set up from a password alone would be a second factor anyone with the password
        # could give themselves: set it up where the tablet already counts.
        return redirect(_step_url("tablet", next_url))
    if state.enrolled and not _verified(request):
        # Replacing an app takes a code from the current one (or a backup code) first.
        return redirect(_step_url("verify", reverse("accounts:enrol")))
    form = EnrolForm(request.POST or None)
    device_id: int | None = None
    if request.method == "POST" and form.is_valid():
        device_id = form.cleaned_data["device"]
        try:
            device, codes = actions.confirm_enrolment(
                user=user, device_id=device_id, code=form.cleaned_data["code"]
            )
        except ActionRefused as refusal:
            if refusal.code == "stale" and two_factor.is_enrolled(user) and _verified(request):
                # A second tap on a finished set-up.
                messages.info(request, _("Two-step login is already set up."))
                return redirect(next_url)
            form.add_error("code", refusal.message)
        else:
            otp_login(request, device)
            request.session.cycle_key()
            two_factor.state(request, fresh=True)
            return render(
                request,
                "accounts/backup_codes.html",
                {"codes": codes, "next": next_url, "just_enrolled": True},
            )
    pending = (
        TOTPDevice.objects.filter(user=user, pk=device_id, confirmed=False).first()
        if device_id is not None
        else None
    ) or two_factor.pending_device(user)
    return render(
        request,
        "accounts/enrol.html",
        {
            "form": form,
            "next": next_url,
            "device": pending,
            "qr_svg": two_factor.qr_code_svg(pending),
            "secret": two_factor.secret_for_typing(pending),
            "required": state.required,
            "replacing": state.enrolled,
        },
    )


@roles(*ALL_ROLES)
@require_POST
def backup_codes(request: HttpRequest) -> HttpResponse:
    """New backup codes (the old ones stop working), shown once."""
    user = _user(request)
    if not two_factor.is_enrolled(user):
        messages.error(request, _("Set up an authenticator app first."))
        return redirect("accounts:security")
    codes = actions.replace_backup_codes(user=user)
    return render(request, "accounts/backup_codes.html", {"codes": codes, "next": reverse("home")})


@roles(*ALL_ROLES)
@require_http_methods(["GET"])
def security(request: HttpRequest) -> HttpResponse:
    """Your account: two-step login, backup codes, your PIN and your password."""
    user = _user(request)
    state = two_factor.state(request, fresh=True)
    return render(
        request,
        "accounts/security.html",
        {
            "state": state,
            "backup_codes_left": two_factor.backup_codes_left(user) if state.enrolled else 0,
            "may_use_pin": actions.may_use_pin(user),
            "has_pin": StaffPin.objects.filter(user=user).exists(),
        },
    )


# --- personal PINs and switching user --------------------------------------------------


@roles(Role.DESK, Role.FLOOR)
@require_http_methods(["GET", "POST"])
def pin(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not actions.may_use_pin(user):
        raise PermissionDenied
    if request.method == "POST" and "remove" in request.POST:
        actions.remove_pin(user=user)
        messages.success(request, _("Your PIN is removed."))
        return redirect("accounts:security")
    form = PinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Through authenticate, so wrong passwords here count towards the lockout too.
        if (
            authenticate(
                request, username=user.get_username(), password=form.cleaned_data["password"]
            )
            is None
        ):
            form.add_error("password", _("That is not your password."))
        else:
            try:
                actions.set_pin(user=user, pin=form.cleaned_data["pin"])
            except ActionRefused as refusal:
                form.add_error(None, refusal.message)
            else:
                messages.success(
                    request,
                    _("Your PIN is set. Use it to switch in on a tablet a colleague is using."),
                )
                return redirect("accounts:security")
    return render(
        request,
        "accounts/pin.html",
        {"form": form, "has_pin": StaffPin.objects.filter(user=user).exists()},
    )


@roles(*ALL_ROLES)
@require_http_methods(["GET", "POST"])
def switch(request: HttpRequest) -> HttpResponse:
    """A colleague takes over this tablet with their PIN: a new session in their name. Only on
    an enrolled tablet (ADR 14), and only colleagues who work at its site."""
    user = _user(request)
    tablet = tablets.tablet_of(request, note_seen=False)
    if tablet is None and tablets.required():
        return render(request, "accounts/switch.html", {"not_enrolled": True})
    site = tablet.site if tablet is not None else None
    colleagues = list(actions.colleagues_for_switching(user, site=site))
    form = SwitchForm(request.POST or None, colleagues=colleagues)
    if request.method == "POST" and form.is_valid():
        try:
            colleague = actions.switch_user(
                from_user=user,
                to_user_id=form.cleaned_data["person"],
                pin=form.cleaned_data["pin"],
                site=site,
            )
        except ActionRefused as refusal:
            form.add_error("pin", refusal.message)
        else:
            # The tablet's 12-hour limit counts from the password login that opened it.
            started_at = request.session.get("started_at")
            auth_login(request, colleague, backend=MODEL_BACKEND)  # a new session key
            request.session[two_factor.AUTH_METHOD_KEY] = two_factor.PIN
            if tablet is not None:
                request.session[sessions.TABLET_KEY] = tablet.pk
            if started_at is not None:
                request.session["started_at"] = started_at
                request.session["last_active_at"] = int(time.time())
            messages.success(request, _("You are logged in as %(name)s.") % {"name": colleague})
            return redirect("home")
    return render(request, "accounts/switch.html", {"form": form, "colleagues": colleagues})


# --- a manager resets a colleague's authenticator ----------------------------------------


@site_view(Role.MANAGER, Role.ADMIN)
@require_POST
def staff_two_factor_reset(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    by = _user(request)
    member = access_staff_member(by, site, pk)
    try:
        actions.reset_two_factor(user=member, by=by, site=site)
    except ActionRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            _(
                "Two-step login for %(name)s is reset. They set up a new authenticator app "
                "when they next log in."
            )
            % {"name": member},
        )
    return redirect("sites:staff_edit", site=site.slug, pk=member.pk)


# --- where you are logged in -------------------------------------------------------------


@roles(*ALL_ROLES)
@require_http_methods(["GET", "POST"])
def logins(request: HttpRequest) -> HttpResponse:
    """Your live logins, and ending any of them but this one (ASVS 3.3.4)."""
    user = _user(request)
    current = request.session.session_key
    if request.method == "POST":
        if "everywhere_else" in request.POST:
            ended = actions.end_other_logins(user=user, current_key=current)
            messages.success(
                request,
                ngettext(
                    "%(count)d other login has ended.", "%(count)d other logins have ended.", ended
                )
                % {"count": ended},
            )
        else:
            try:
                actions.end_login(
                    user=user, ref=request.POST.get("login", "")[:64], current_key=current
                )
            except ActionRefused as refusal:
                messages.error(request, refusal.message)
            else:
                messages.success(
                    request,
                    _(
                        "That login has ended: the device is sent to the login page at its "
                        "next tap."
                    ),
                )
        return redirect("accounts:logins")
    found = sessions.logins_of(user, current)
    return render(
        request,
        "accounts/logins.html",
        {"logins": found, "others": any(not login.current for login in found)},
    )


@site_view(Role.MANAGER, Role.ADMIN)
@require_POST
def staff_logins_end(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """A manager logs a colleague out everywhere (a stolen tablet)."""
    by = _user(request)
    member = access_staff_member(by, site, pk)
    try:
        ended = actions.end_staff_logins(user=member, by=by, site=site)
    except ActionRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            ngettext(
                "%(name)s is logged out of %(count)d device.",
                "%(name)s is logged out of %(count)d devices.",
                ended,
            )
            % {"name": member, "count": ended},
        )
    return redirect("sites:staff_edit", site=site.slug, pk=member.pk)
