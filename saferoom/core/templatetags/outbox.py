"""``{% outbox_values %}``: the offline outbox's keys for a logged-in page (saferoom.core.outbox).
A session still waiting for its second factor gets none."""

from __future__ import annotations

from typing import Any

from django import template

from saferoom.accounts.two_factor import pending_step
from saferoom.core import outbox
from saferoom.core.models import User

register = template.Library()


@register.simple_tag(takes_context=True)
def outbox_values(context: dict[str, Any]) -> dict[str, str] | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or not isinstance(user, User) or not user.is_authenticated:
        return None
    if pending_step(request) is not None:
        return None
    return outbox.page_values(user)
