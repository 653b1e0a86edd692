"""The report pages: a site's dashboard, its printable report and its downloads, under
/sites/<site>/reports/; and the same for a whole network, with its sites compared, under
/networks/<network>/reports/.

Every page works from one computation: ``compute_report(scope)``, published for this reader
with ``publish(report, rule_for(user, scope))`` — the site's own staff (desk, floor, manager)
and administrators see exact figures, evaluators the same figures under the site's
small-number rule. The screen, the print and every download are made from that one
:class:`ShownReport`, so a figure reads the same everywhere. Only aggregates: no page here
shows or links to a client.

A network's sites are compared in one table: exact where the reader works, otherwise under the
network's rule, its additive counts published together with the network's total so that no
site's hidden count is the total less the others.

The period is in the query string (``?period=2026-03``). A period that cannot be read is
refused on the page (400) before anything is computed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from saferoom.core.roles import Role
from saferoom.core.suppression import Rule
from saferoom.core.svg import Chart
from saferoom.reports import charts, exports, reading
from saferoom.reports.access import NETWORK_REPORT_ROLES, network_roles, network_view
from saferoom.reports.forms import ExportForm, PeriodForm, default_period, quick_choices
from saferoom.reports.periods import Period
from saferoom.reports.publish import (
    NOT_DEFINED,
    Shown,
    ShownBreakdown,
    ShownReport,
    ShownResult,
    percent,
    publish,
    text,
)
from saferoom.reports.registry import Indicator, Kind, Scope, load
from saferoom.reports.scopes import network_scope, rule_for, sees_exact, site_scope
from saferoom.sites.access import site_view
from saferoom.sites.models import Network, Site

REPORT_ROLES = (Role.MANAGER, Role.ADMIN, Role.DESK, Role.FLOOR, Role.EVALUATOR)

GROUP_TITLES = {
    "use": gettext_lazy("Use"),
    "safety": gettext_lazy("Safety"),
    "engagement": gettext_lazy("Engagement and harm-reduction outputs"),
    "cost": gettext_lazy("Cost (input to evaluation)"),
}

# The site comparison of a network report: (indicator, figure keys to try, heading).
COMPARISON = (
    ("U1", ("total",), gettext_lazy("Visits")),
    ("U2", ("total",), gettext_lazy("Supervised episodes")),
    ("U3", ("total", "distinct"), gettext_lazy("Unique clients")),
    ("S1", ("total",), gettext_lazy("Emergencies")),
    ("S2", (), gettext_lazy("Emergencies per 1,000 episodes")),
    ("S7", ("total", "deaths"), gettext_lazy("Deaths on site")),
    ("E2", ("total",), gettext_lazy("Referrals made")),
)

CONTENT_TYPES = {
    "csv": exports.CSV_CONTENT_TYPE,
    "xlsx": exports.XLSX_CONTENT_TYPE,
    "json": exports.JSON_CONTENT_TYPE,
}

MINUS = "\u2212"


# --- what the templates show ----------------------------------------------------------------


@dataclass(frozen=True)
class FigureRow:
    key: str
    label: str
    kind: Kind
    note: str
    now: Shown
    before: Shown | None
    change: str


@dataclass(frozen=True)
class TableRow:
    label: str
    cells: tuple[Shown, ...]
    total: Shown | None


@dataclass(frozen=True)
class TableView:
    table: ShownBreakdown
    rows: tuple[TableRow, ...]


@dataclass(frozen=True)
class Card:
    """One indicator: its shown result and its headline figures beside the previous period."""

    result: ShownResult
    rows: tuple[FigureRow, ...]

    @property
    def indicator(self) -> Indicator:
        return self.result.indicator

    @property
    def tables(self) -> list[TableView]:
        return [
            TableView(
                table,
                tuple(
                    TableRow(label, cells, table.row_totals[r] if table.row_totals else None)
                    for r, ((_key, label), cells) in enumerate(
                        zip(table.rows, table.cells, strict=True)
                    )
                ),
            )
            for table in self.result.breakdowns
        ]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    cards: tuple[Card, ...]


@dataclass(frozen=True)
class ComparisonRow:
    label: str
    url: str
    rule: Rule | None
    cells: tuple[Shown, ...]
    is_total: bool = False


@dataclass
class Page:
    """Everything a report page shows."""

    title: str
    scope_label: str
    period: Period | None
    shown: ShownReport | None = None
    previous: ShownReport | None = None
    sections: list[Section] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    comparison_columns: list[str] = field(default_factory=list)
    comparison: list[ComparisonRow] = field(default_factory=list)

    @property
    def generated_at(self) -> datetime | None:
        return self.shown.generated_at if self.shown else None


def change_text(kind: Kind, now: Shown, before: Shown | None) -> str:
    """How much a figure moved since the previous period, from the values shown (so a hidden
    figure has no change: "—")."""
    if now.value is None or before is None or before.value is None:
        return NOT_DEFINED
    diff = float(now.value) - float(before.value)
    if diff == 0:
        return _("no change")
    sign = "+" if diff > 0 else MINUS
    if kind == "share":
        return _("%(sign)s%(n)s percentage points") % {"sign": sign, "n": percent(abs(diff))}
    words = sign + text(kind, abs(diff))
    if kind == "count" and before.value:
        words += f" ({sign}{abs(diff) / float(before.value) * 100:.0f}%)"
    return words


def cards_for(shown: ShownReport, previous: ShownReport | None) -> list[Section]:
    """The report's indicators grouped (Use, Safety, Engagement, Cost), each figure beside its
    value in the previous period and the change."""
    grouped: dict[str, list[Card]] = {}
    for code, result in shown.results.items():
        before_result = previous.results.get(code) if previous else None
        rows = []
        for fig in result.figures:
            before = None
            if before_result is not None:
                before = next((f.shown for f in before_result.figures if f.key == fig.key), None)
            rows.append(
                FigureRow(
                    key=fig.key,
                    label=fig.label,
                    kind=fig.kind,
                    note=fig.note,
                    now=fig.shown,
                    before=before,
                    change=change_text(fig.kind, fig.shown, before),
                )
            )
        grouped.setdefault(result.indicator.group, []).append(Card(result, tuple(rows)))
    return [
        Section(key, str(GROUP_TITLES.get(key, key)), tuple(cards))
        for key in GROUP_TITLES
        if (cards := grouped.get(key))
    ]


def _headline(result: ShownResult | None, code: str, keys: Sequence[str]) -> Shown:
    if result is None:
        return Shown(None, NOT_DEFINED)
    figure = charts.s2_per_episodes(result) if code == "S2" else charts.find_figure(result, *keys)
    if figure is None and result.figures:
        figure = result.figures[0]
    return figure.shown if figure is not None else Shown(None, NOT_DEFINED)


def _comparison_cells(
    shown: ShownReport, codes: Sequence[tuple[str, Sequence[str]]]
) -> tuple[Shown, ...]:
    return tuple(_headline(shown.results.get(code), code, keys) for code, keys in codes)


def _hide_rate_with_its_counts(cells: list[Shown], order: Sequence[str]) -> None:
    """A site's emergency rate is hidden with the counts it is made from."""
    if "S2" not in order:
        return
    parts = [order.index(c) for c in ("S1", "U2") if c in order]
    hidden_part = next((cells[p] for p in parts if charts.hidden(cells[p])), None)
    if hidden_part is not None:
        cells[order.index("S2")] = Shown(None, hidden_part.text, hidden_part.hidden)


def period_words(period: Period) -> str:
    """A period as people say it: "March 2026", "2 March 2026", "1 March 2026 to 15 April
    2026"."""
    if period.kind == "month":
        return date_format(period.first, "F Y")
    if period.kind == "day":
        return date_format(period.first, "j F Y")
    if period.kind == "year":
        return str(period.first.year)
    return _("%(first)s to %(last)s") % {
        "first": date_format(period.first, "j F Y"),
        "last": date_format(period.last, "j F Y"),
    }


# --- reading the request --------------------------------------------------------------------


def _today() -> date:
    """Today in the current time zone (the site's, on a site page)."""
    return timezone.localdate()


def _period_form(request: HttpRequest) -> PeriodForm:
    """The chooser, bound when the query names a period (otherwise this month)."""
    return PeriodForm(request.GET if "period" in request.GET else None, today=_today())


def _chosen(form: PeriodForm) -> Period | None:
    """The period asked for (this month when none was), or None when it cannot be read."""
    if not form.is_bound:
        return default_period(form.today)
    if form.is_valid():
        period: Period = form.cleaned_data["period"]
        return period
    return None


def _quick(url: str, today: date, chosen: Period | None) -> list[dict[str, Any]]:
    return [
        {
            "label": choice.label,
            "period": choice.period,
            "url": f"{url}?period={choice.period.code}",
            "current": chosen is not None and chosen == choice.period,
        }
        for choice in quick_choices(today)
    ]


def _common(
    request: HttpRequest,
    page: Page,
    form: PeriodForm,
    *,
    here: str,
    print_url: str,
    export_url: str,
    status: int = 200,
    template: str,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    period = page.period
    query = f"?period={period.code}" if period else ""
    context = {
        "page": page,
        "printing": template == "reports/print.html",
        "period_words": period_words(period) if period else "",
        "previous_words": period_words(period.previous()) if period else "",
        "time_zone": timezone.get_current_timezone_name(),
        "form": form,
        "quick": _quick(here, form.today, period),
        "here": here,
        "print_url": print_url + query,
        "dashboard_url": here + query,
        "export_url": export_url,
        "downloads": [
            (
                fmt,
                label,
                f"{export_url}{query}&format={fmt}" if query else f"{export_url}?format={fmt}",
            )
            for fmt, label in (("csv", "CSV"), ("xlsx", "XLSX"), ("json", "JSON"))
        ],
        **(extra or {}),
    }
    return render(request, template, context, status=status)


# --- site pages -----------------------------------------------------------------------------


def _site_page(request: HttpRequest, site: Site, period: Period | None) -> Page:
    page = Page(title=site.name, scope_label=site.name, period=period)
    if period is None:
        return page
    now = timezone.now()
    scope = site_scope(site, period, now)
    page.shown = reading.published_for(request.user, scope)
    page.previous = reading.published_for(request.user, site_scope(site, period.previous(), now))
    page.sections = cards_for(page.shown, page.previous)
    page.charts = charts.report_charts(page.shown)
    return page


def _network_link(request: HttpRequest, site: Site) -> str:
    roles = network_roles(request.user, site.network)
    if roles & set(NETWORK_REPORT_ROLES):
        return reverse("network_reports:dashboard", kwargs={"network": site.network_id})
    return ""


def _site_urls(site: Site) -> dict[str, str]:
    return {
        "here": reverse("reports:dashboard", kwargs={"site": site.slug}),
        "print_url": reverse("reports:print", kwargs={"site": site.slug}),
        "export_url": reverse("reports:export", kwargs={"site": site.slug}),
    }


def _site_report(request: HttpRequest, site: Site, template: str) -> HttpResponse:
    form = _period_form(request)
    period = _chosen(form)
    page = _site_page(request, site, period)
    return _common(
        request,
        page,
        form,
        **_site_urls(site),
        template=template,
        status=200 if period else 400,
        extra={"site": site, "network_url": _network_link(request, site)},
    )


@site_view(*REPORT_ROLES)
@require_GET
def dashboard(request: HttpRequest, site: Site) -> HttpResponse:
    return _site_report(request, site, "reports/dashboard.html")


@site_view(*REPORT_ROLES)
@require_GET
def print_report(request: HttpRequest, site: Site) -> HttpResponse:
    return _site_report(request, site, "reports/print.html")


def _download(shown: ShownReport, fmt: str, name: str) -> HttpResponse:
    content = {"csv": exports.to_csv, "xlsx": exports.to_xlsx, "json": exports.to_json}[fmt](shown)
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    code = shown.scope.period.code.replace("..", "_to_")
    response["Content-Disposition"] = f'attachment; filename="saferoom-{name}-{code}.{fmt}"'
    return response


def _export(
    request: HttpRequest,
    *,
    scope_for: Callable[[Period, datetime], Scope],
    name: str,
    title: str,
    urls: dict[str, str],
    extra: dict[str, Any],
) -> HttpResponse:
    """Without a format, the download page; with one, the file (or the page with what to
    fix)."""
    wants_file = "format" in request.GET
    form = ExportForm(request.GET if wants_file else None, today=_today())
    if wants_file and form.is_valid():
        chosen: Period = form.cleaned_data["period"]
        scope = scope_for(chosen, timezone.now())
        # An exact reader may ask for the public version: what anyone outside the sites sees.
        public = request.GET.get("published") == "1" and sees_exact(request.user, scope)
        shown = reading.published_for(None if public else request.user, scope)
        return _download(shown, form.cleaned_data["format"], name)
    period = default_period(form.today) if not wants_file else None
    page = Page(title=title, scope_label=title, period=period)
    return _common(
        request,
        page,
        form,
        **urls,
        template="reports/export.html",
        status=400 if wants_file else 200,
        extra=extra,
    )


@site_view(*REPORT_ROLES)
@require_GET
def export(request: HttpRequest, site: Site) -> HttpResponse:
    exact = sees_exact(request.user, site_scope(site, default_period(_today())))
    return _export(
        request,
        scope_for=lambda period, now: site_scope(site, period, now),
        name=site.slug,
        title=site.name,
        urls=_site_urls(site),
        extra={"site": site, "sees_exact": exact},
    )


# --- network pages --------------------------------------------------------------------------


def _network_urls(network: Network) -> dict[str, str]:
    return {
        "here": reverse("network_reports:dashboard", kwargs={"network": network.pk}),
        "print_url": reverse("network_reports:print", kwargs={"network": network.pk}),
        "export_url": reverse("network_reports:export", kwargs={"network": network.pk}),
    }


def _network_page(request: HttpRequest, network: Network, period: Period | None) -> Page:
    title = _("%(network)s (all sites)") % {"network": network.name}
    page = Page(title=title, scope_label=title, period=period)
    if period is None:
        return page
    now = timezone.now()
    scope = network_scope(network, period, now)
    rule = rule_for(request.user, scope)
    registered = load()
    codes = [(code, keys) for code, keys, _h in COMPARISON if code in registered]
    page.comparison_columns = [
        f"{heading} ({code})" for code, _keys, heading in COMPARISON if code in registered
    ]
    wanted = [code for code, _keys in codes]
    site_reports = reading.site_reports(scope, wanted)
    page.shown = reading.published_for(request.user, scope, reports=site_reports)
    page.previous = reading.published_for(
        request.user, network_scope(network, period.previous(), now)
    )
    page.sections = cards_for(page.shown, page.previous)

    for i, (site, site_report) in enumerate(zip(scope.sites, site_reports, strict=True)):
        # Exact where the reader works; otherwise the table's one rule, the network's, with
        # the counts that add up to the network's published with its total as one table.
        site_rule = rule if rule_for(request.user, site_report.scope) is not None else None
        cells = list(_comparison_cells(publish(site_report, site_rule), codes))
        if site_rule is not None:
            for column, code in enumerate(wanted):
                if f"{code}.total" in page.shown.sites:
                    cells[column] = page.shown.sites[f"{code}.total"][i]
            _hide_rate_with_its_counts(cells, wanted)
        page.comparison.append(
            ComparisonRow(
                label=site.name,
                url=reverse("reports:dashboard", kwargs={"site": site.slug}),
                rule=site_rule,
                cells=tuple(cells),
            )
        )
    page.comparison.append(
        ComparisonRow(
            label=_("All sites"),
            url="",
            rule=rule,
            cells=_comparison_cells(page.shown, codes),
            is_total=True,
        )
    )
    # The emergency rate chart: each site and the network, as the comparison shows them.
    rate_items: list[charts.Item] = []
    if "S2" in wanted:
        column = wanted.index("S2")
        rate_items = [(row.label, row.cells[column]) for row in page.comparison]
    page.charts = charts.report_charts(page.shown, emergency_items=rate_items)
    return page


def _network_report(request: HttpRequest, network: Network, template: str) -> HttpResponse:
    first = Site.objects.filter(network=network).order_by("name").first()
    with timezone.override(first.tz if first else timezone.get_default_timezone()):
        form = _period_form(request)
        period = _chosen(form)
        page = _network_page(request, network, period)
        return _common(
            request,
            page,
            form,
            **_network_urls(network),
            template=template,
            status=200 if period else 400,
            extra={"network": network},
        )


@network_view(*NETWORK_REPORT_ROLES)
@require_GET
def network_dashboard(request: HttpRequest, network: Network) -> HttpResponse:
    return _network_report(request, network, "reports/dashboard.html")


@network_view(*NETWORK_REPORT_ROLES)
@require_GET
def network_print(request: HttpRequest, network: Network) -> HttpResponse:
    return _network_report(request, network, "reports/print.html")


@network_view(*NETWORK_REPORT_ROLES)
@require_GET
def network_export(request: HttpRequest, network: Network) -> HttpResponse:
    title = _("%(network)s (all sites)") % {"network": network.name}
    exact = sees_exact(request.user, network_scope(network, default_period(_today())))
    return _export(
        request,
        scope_for=lambda period, now: network_scope(network, period, now),
        name=f"network-{slugify(network.name) or network.pk}",
        title=title,
        urls=_network_urls(network),
        extra={"network": network, "sees_exact": exact},
    )
