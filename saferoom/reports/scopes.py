"""Building a report's scope (one site or a whole network, a period, as at now) and deciding
what its reader is shown: the site's own staff see exact figures; evaluators, anyone whose
roles do not cover every site of the scope, and every public export see suppressed ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from saferoom.core.roles import STAFF_ROLES, Role
from saferoom.core.suppression import DEFAULT_RULE, RULES, Rule, rule_named
from saferoom.reports.periods import Period
from saferoom.reports.registry import Scope
from saferoom.sites.models import Membership, Network, Site

# Roles that see exact figures for the sites they hold them at.
EXACT_ROLES = frozenset({*STAFF_ROLES, Role.ADMIN})


def site_scope(site: Site, period: Period, now: datetime | None = None) -> Scope:
    return Scope(
        network=site.network,
        sites=(site,),
        period=period,
        now=now or timezone.now(),
        is_network=False,
    )


def network_scope(network: Network, period: Period, now: datetime | None = None) -> Scope:
    sites = tuple(Site.objects.filter(network=network).select_related("network").order_by("name"))
    return Scope(
        network=network, sites=sites, period=period, now=now or timezone.now(), is_network=True
    )


def scope_rule(scope: Scope) -> Rule:
    """The rule of the scope's sites; for a network, the strictest of its sites' rules (the
    highest threshold, rounding before none), so no site's figures are published more loosely
    than the site asked."""
    codes = {getattr(s, "suppression_rule", DEFAULT_RULE) or DEFAULT_RULE for s in scope.sites}
    rules = [rule_named(c) for c in codes] or [RULES[DEFAULT_RULE]]
    return max(rules, key=lambda r: (r.below, r.round_to))


def sees_exact(user: Any, scope: Scope) -> bool:
    """Whether ``user`` holds a staff or admin role at every site of the scope (at the site
    itself, or across its network). An evaluator role never gives exact figures."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    held = Membership.objects.filter(user=user, role__in=EXACT_ROLES)
    if held.filter(site__isnull=True, network_id=scope.network.pk).exists():
        return True
    if scope.is_network:
        return False
    covered = set(held.filter(site__in=scope.sites).values_list("site_id", flat=True))
    return covered >= set(scope.site_ids)


def rule_for(user: Any, scope: Scope) -> Rule | None:
    """None (exact) for the site's own staff; the scope's rule for everyone else."""
    return None if sees_exact(user, scope) else scope_rule(scope)
