"""The only way a desk view gets hold of a visit: by its site, so another site's visit is a 404
as if it did not exist. (The site itself, and the user's role there, come from ``site_view``.)"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from saferoom.floor.models import Visit
from saferoom.sites.models import Site


def access_visit(request: HttpRequest, site: Site, pk: int) -> Visit:
    visit = Visit.objects.select_related("client", "site").filter(site=site, pk=pk).first()
    if visit is None:
        raise Http404
    return visit
