"""Access-table rows for the incidents pages, and the sample objects their kwargs name.

Same columns and helpers as ``tests/access_table.py`` (import ``page``, ``post_only``, ``SITE``
from there). ``samples()`` gets the objects built so far and returns the new names it adds.

Who may do what (decided in ``saferoom/incidents/views.py``): floor staff, managers and
administrators do everything on the floor side; the front desk may start a stand-alone
incident, log interventions, the outcome and notes (they often see a collapse at the door
first), but not correct times or review; managers and administrators review and close;
evaluators never see a client-level incident (403); other sites' staff get 404.

    incident        a stand-alone incident at site A (in the lounge), still open
    incident_step   an intervention of that incident (oxygen)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from saferoom.incidents.models import Incident, Intervention
from tests.access_table import LOGIN, SITE, Row, page, post_only

INCIDENT = {"site": "site_a", "pk": "incident"}
STEP = {"site": "site_a", "pk": "incident", "step": "incident_step"}

# fmt: off
ROWS: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
    "incidents:list":           page(SITE,              LOGIN,  200,  200,   200, 403,  200,  404),
    "incidents:review":         page(SITE,              LOGIN,  403,  403,   200, 403,  200,  404),
    "incidents:new":            page(SITE,              LOGIN,  200,  200,   200, 403,  200,  404),
    "incidents:screen":         page(INCIDENT,          LOGIN,  200,  200,   200, 403,  200,  404),
    "incidents:detail":         page(INCIDENT,          LOGIN,  200,  200,   200, 403,  200,  404),
    "incidents:timeline":       page(INCIDENT,          LOGIN,  200,  200,   200, 403,  200,  404),
    "incidents:amend":          page(INCIDENT,          LOGIN,  403,  200,   200, 403,  200,  404),
    "incidents:amend_intervention": page(STEP,          LOGIN,  403,  200,   200, 403,  200,  404),
    "incidents:amend_outcome":  page(INCIDENT,          LOGIN,  403,  200,   200, 403,  200,  404),
    "incidents:tap":            post_only(INCIDENT,     LOGIN,  405,  405,   405, 403,  405,  404),
    "incidents:kind":           post_only(INCIDENT,     LOGIN,  405,  405,   405, 403,  405,  404),
    "incidents:outcome":        post_only(INCIDENT,     LOGIN,  405,  405,   405, 403,  405,  404),
    "incidents:note":           post_only(INCIDENT,     LOGIN,  405,  405,   405, 403,  405,  404),
    "incidents:close":          post_only(INCIDENT,     LOGIN,  403,  403,   405, 403,  405,  404),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    now = timezone.now()
    incident = Incident.objects.create(
        site=site_a,
        onset_at=now - dt.timedelta(minutes=5),
        started_at=now - dt.timedelta(minutes=5),
        started_by=desk,
        location="lounge",
        kind="opioid",
    )
    step = Intervention.objects.create(
        incident=incident,
        kind="oxygen",
        oxygen_l_min=4,
        at=now - dt.timedelta(minutes=4),
        by=desk,
        recorded_at=now - dt.timedelta(minutes=4),
    )
    return {"incident": incident.pk, "incident_step": step.pk}
