"""The only way an incidents view gets hold of an incident or one of its interventions: through
its site, so another site's incident answers 404 as if it did not exist. (Who may open the page
at all is ``site_view``'s job, with the role lists here, shared by the pages and the API;
evaluators never reach a client-level incident.)"""

from __future__ import annotations

from django.http import Http404

from saferoom.core.roles import Role
from saferoom.incidents.models import Incident, Intervention
from saferoom.sites.models import Site

# The order is the order of preference: someone who is both desk and floor acts as floor.
VIEWERS = (Role.FLOOR, Role.MANAGER, Role.ADMIN, Role.DESK)
TAPPERS = VIEWERS
CORRECTORS = (Role.FLOOR, Role.MANAGER, Role.ADMIN)
REVIEWERS = (Role.MANAGER, Role.ADMIN)


def access_incident(site: Site, pk: int) -> Incident:
    incident = (
        Incident.objects.select_related(
            "site",
            "client",
            "space",
            "session__space",
            "visit",
            "started_by",
            "outcome_by",
            "reviewed_by",
        )
        .prefetch_related(
            "amendments__by",
            "outcome_amendments__by",
            "interventions__by",
            "interventions__amendments__by",
            "notes__by",
            "staff_present",
        )
        .filter(site=site, pk=pk)
        .first()
    )
    if incident is None:
        raise Http404
    return incident


def access_intervention(incident: Incident, pk: int) -> Intervention:
    """One intervention of an incident already reached through ``access_incident``."""
    for step in incident.interventions.all():
        if step.pk == pk:
            return step
    raise Http404
