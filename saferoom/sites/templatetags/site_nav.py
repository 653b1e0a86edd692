"""The site menu's one question: may the person open this page? Answered from the roles the
page's view declares (``site_view(...)``), so the menu never offers a page that answers 403 and
never hides one that opens."""

from __future__ import annotations

from functools import cache
from typing import Any

from django import template
from django.urls import resolve, reverse

register = template.Library()


@cache
def _declared_roles(url_name: str) -> frozenset[str]:
    # Any slug resolves to the same view; the roles are the view's, not the site's.
    view = resolve(reverse(url_name, kwargs={"site": "any"})).func
    return frozenset(getattr(view, "saferoom_roles", frozenset()))


@register.simple_tag(takes_context=True)
def may_open(context: dict[str, Any], url_name: str) -> bool:
    """Whether the person's role at the current site is one the page at ``url_name`` (a site
    page, addressed by ``site``) allows."""
    request = context.get("request")
    role = getattr(request, "current_role", None)
    if getattr(request, "current_site", None) is None or not role:
        return False
    return role in _declared_roles(url_name)
