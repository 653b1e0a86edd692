"""Pages of the returns, under /sites/<site>/returns/: the list with a period chooser for each
return, each return as a page that prints on A4, and its CSV and XLSX.

Who (decided for issue 5): managers and administrators, who send returns, and evaluators,
who read them. A return is aggregate figures only; evaluators see them under the site's
suppression rule, site staff and administrators exact (``scopes.rule_for``). The desk and
the floor get 403; another site's people 404.

The period travels in the query string (``?period=2026-03``). A period the return is not made
for, or cannot be read, is answered with the chooser and a message saying what to write
(status 400), never an error page. A download address without a period shows the return's
page (its links carry the period), so no address starts a download nobody asked for."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from saferoom.core.roles import Role
from saferoom.reports import returns
from saferoom.reports.periods import Period, PeriodError, parse_period
from saferoom.reports.returns import SHAPES, FilledReturn, ReturnShape
from saferoom.reports.scopes import rule_for, site_scope
from saferoom.sites.access import site_view
from saferoom.sites.models import Site

RETURN_ROLES = (Role.MANAGER, Role.ADMIN, Role.EVALUATOR)
# Nothing longer is a period; the message quotes what was typed, so keep it short.
LONGEST_PERIOD = 24


def _today(site: Site) -> date:
    return site.local(timezone.now()).date()


def _choose(request: HttpRequest, site: Site, shape: ReturnShape) -> tuple[Period | None, str]:
    """The period asked for (the return's default when none is), or None and why not."""
    typed = (request.GET.get("period") or "").strip()
    today = _today(site)
    if not typed:
        return shape.default_period(today), ""
    if len(typed) > LONGEST_PERIOD:
        typed = typed[:LONGEST_PERIOD] + "…"
    try:
        period = parse_period(typed)
    except PeriodError:
        return None, _("“%(typed)s” is not a period. Write one like %(example)s.") % {
            "typed": typed,
            "example": shape.period_example(),
        }
    try:
        shape.check_period(period, today)
    except PeriodError as refusal:
        return None, str(refusal)
    return period, ""


def _chooser(shape: ReturnShape, site: Site, typed: str = "") -> dict[str, object]:
    return {
        "shape": shape,
        "url_name": f"returns:{shape.slug}",
        "value": typed or shape.default_period(_today(site)).code,
        "example": shape.period_example(),
    }


def _refused(request: HttpRequest, site: Site, shape: ReturnShape, message: str) -> HttpResponse:
    typed = (request.GET.get("period") or "")[:LONGEST_PERIOD]
    return render(
        request,
        "reports/returns/refused.html",
        {"site": site, "shape": shape, "message": message, "chooser": _chooser(shape, site, typed)},
        status=400,
    )


def _filled(request: HttpRequest, site: Site, shape: ReturnShape, period: Period) -> FilledReturn:
    now = timezone.now()
    rule = rule_for(request.user, site_scope(site, period, now))
    return returns.fill(shape, site=site, period=period, rule=rule, now=now)


def _filename(site: Site, shape: ReturnShape, period: Period, extension: str) -> str:
    return f"saferoom-{site.slug}-{shape.slug.replace('_', '-')}-{period.code}.{extension}"


@site_view(*RETURN_ROLES)
@require_GET
def index(request: HttpRequest, site: Site) -> HttpResponse:
    """The returns this site can make, each with its period chooser."""
    choosers = [_chooser(shape, site) for shape in SHAPES.values()]
    return render(request, "reports/returns/index.html", {"site": site, "choosers": choosers})


@site_view(*RETURN_ROLES)
@require_GET
def show(request: HttpRequest, site: Site, shape: str) -> HttpResponse:
    """One return for one period, as a page to read and print."""
    return _page(request, site, SHAPES[shape])


def _page(request: HttpRequest, site: Site, chosen: ReturnShape) -> HttpResponse:
    period, refusal = _choose(request, site, chosen)
    if period is None:
        return _refused(request, site, chosen, refusal)
    filled = _filled(request, site, chosen, period)
    return render(
        request,
        "reports/returns/return.html",
        {
            "site": site,
            "filled": filled,
            "shape": chosen,
            "chooser": _chooser(chosen, site, period.code),
            "period_label": returns.period_label(period),
            "columns": [returns.period_label(p) for p in filled.columns],
            "colspan": len(filled.columns) + (3 if chosen.language else 2),
            "mapping_language": returns.MAPPING_LANGUAGE,
            "csv_name": f"returns:{chosen.slug}_csv",
            "xlsx_name": f"returns:{chosen.slug}_xlsx",
        },
    )


@site_view(*RETURN_ROLES)
@require_GET
def download_csv(request: HttpRequest, site: Site, shape: str) -> HttpResponse:
    """The return as CSV. Without a period (an address typed or bookmarked rather than the
    page's link) it shows the return's page, with its download links."""
    chosen = SHAPES[shape]
    if "period" not in request.GET:
        return _page(request, site, chosen)
    period, refusal = _choose(request, site, chosen)
    if period is None:
        return _refused(request, site, chosen, refusal)
    filled = _filled(request, site, chosen, period)
    response = HttpResponse(returns.to_csv(filled), content_type=returns.CSV_CONTENT_TYPE)
    response["Content-Disposition"] = (
        f'attachment; filename="{_filename(site, chosen, period, "csv")}"'
    )
    return response


@site_view(*RETURN_ROLES)
@require_GET
def download_xlsx(request: HttpRequest, site: Site, shape: str) -> HttpResponse:
    """The return as a workbook; without a period, the return's page (as for the CSV)."""
    chosen = SHAPES[shape]
    if "period" not in request.GET:
        return _page(request, site, chosen)
    period, refusal = _choose(request, site, chosen)
    if period is None:
        return _refused(request, site, chosen, refusal)
    filled = _filled(request, site, chosen, period)
    response = HttpResponse(returns.to_xlsx(filled), content_type=returns.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = (
        f'attachment; filename="{_filename(site, chosen, period, "xlsx")}"'
    )
    return response
