"""The two-step login panel on a colleague's staff page (sites/staff_edit.html)."""

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
