"""The panels on a colleague's staff page (sites/staff_edit.html): two-step login, and where
they are logged in."""

from __future__ import annotations

from typing import Any

from django import template

from saferoom.accounts import two_factor

register = template.Library()


@register.inclusion_tag("accounts/_staff_two_factor.html")
def staff_two_factor(site: Any, member: Any) -> dict[str, Any]:
    return {
        "site": site,
        "member": member,
        "enrolled": two_factor.is_enrolled(member),
        "required": two_factor.requires_two_factor(member),
    }


@register.inclusion_tag("accounts/_staff_logins.html")
def staff_logins(site: Any, member: Any) -> dict[str, Any]:
    from saferoom.accounts.sessions import live_sessions

    return {"site": site, "member": member, "live": live_sessions(member).count()}
