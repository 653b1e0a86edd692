"""The only ways a checking view gets hold of a drug check's visit or a drug alert: scoped to the
site (visits) or to the site's network (alerts, which are network-wide). Anything else is a 404."""

from __future__ import annotations

from django.http import Http404

from saferoom.care.checking.models import DrugAlert
from saferoom.floor.models import Visit
from saferoom.sites.models import Site


def access_visit(site: Site, pk: int) -> Visit:
    visit = Visit.objects.select_related("client", "site").filter(site=site, pk=pk).first()
    if visit is None:
        raise Http404
    return visit


def access_alert(site: Site, pk: int) -> DrugAlert:
    """An alert of the site's network (issued from any of its sites)."""
    alert = (
        DrugAlert.objects.select_related("site", "issued_by", "withdrawn_by")
        .filter(network_id=site.network_id, pk=pk)
        .first()
    )
    if alert is None:
        raise Http404
    return alert
