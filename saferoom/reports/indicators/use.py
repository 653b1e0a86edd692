"""Indicators of indicators.md (use): U1–U9, registered with saferoom.reports.registry.indicator
and computed only from :mod:`saferoom.reports.facts` (raw tables or rollups, same answers).

Every table lists all of its rows, zeros included, so a report has the same shape whatever
happened; a row the records hold that the lists below do not know is added at the end."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import cast

from django.utils.dates import WEEKDAYS
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from saferoom.clients.models import AGE_BANDS, Gender
from saferoom.reports import facts
from saferoom.reports.facts import ClientCounts, CountRow, NewClients, nearest_rank
from saferoom.reports.registry import Breakdown, Context, Figure, Kind, Result, indicator
from saferoom.sites.models import CatalogueItem, Route, Space

Rows = tuple[tuple[str, str], ...]

# --- facts, read once per report -------------------------------------------------------------


def _counts(ctx: Context, *measures: str) -> list[CountRow]:
    """Count rows of ``measures``, read once per report however many indicators use them."""
    cache = cast("dict[str, list[CountRow]]", ctx.cache.setdefault("facts.counts", {}))
    missing = [m for m in measures if m not in cache]
    if missing:
        for m in missing:
            cache[m] = []
        for row in facts.counts(ctx.scope, missing):
            cache[row.measure].append(row)
    return [row for m in measures for row in cache[m]]


def _clients(ctx: Context) -> ClientCounts:
    if "facts.clients" not in ctx.cache:
        ctx.cache["facts.clients"] = facts.unique_clients(ctx.scope)
    return cast("ClientCounts", ctx.cache["facts.clients"])


def _open_minutes(ctx: Context) -> list[CountRow]:
    if "facts.open" not in ctx.cache:
        ctx.cache["facts.open"] = facts.open_seat_minutes(ctx.scope)
    return cast("list[CountRow]", ctx.cache["facts.open"])


def _by_dim(rows: Iterable[CountRow], measure: str | None = None) -> dict[str, int]:
    """Totals by ``dim`` (of one measure when named)."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        if measure is None or row.measure == measure:
            totals[row.dim] += row.value
    return dict(totals)


# --- row lists --------------------------------------------------------------------------------


def _labelled(choices: Iterable[tuple[str, object]]) -> Rows:
    return tuple((str(key), str(label)) for key, label in choices)


def _with_unknown(rows: Rows, values: Mapping[str, object]) -> Rows:
    """``rows`` and, after them, any key the values hold that ``rows`` does not."""
    known = {key for key, _label in rows}
    extra = sorted(key for key in values if key not in known)
    return rows + tuple((key, key or _("Not recorded")) for key in extra)


def _gender_rows() -> Rows:
    return _labelled(Gender.choices)


def _age_rows() -> Rows:
    return (*((label, label) for _lowest, label in AGE_BANDS), ("not_known", _("Not known")))


def _space_rows() -> Rows:
    return _labelled((k, v) for k, v in Space.Kind.choices if k != Space.Kind.AFTERCARE)


def _substance_rows() -> Rows:
    return (
        *_labelled(CatalogueItem.CATEGORIES["substance"]),
        ("mixed", _("Other mixes")),
        ("not_recorded", _("Not recorded")),
    )


def _turnaway_rows() -> Rows:
    return _labelled(CatalogueItem.CATEGORIES["turnaway_reason"])


def _otherwise_rows() -> Rows:
    return (
        ("public", _("Public (street, park, stairwell, car)")),
        ("semi_public", _("Semi-public (public toilet, shelter, hostel)")),
        ("private", _("Private (own or someone else's home)")),
        ("would_not_use", _("Would not have used")),
        ("unknown", _("Not asked or did not say")),
    )


def _hour_rows() -> Rows:
    return tuple((f"{h:02d}", f"{h:02d}:00") for h in range(24))


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- tables -----------------------------------------------------------------------------------


def _one_way(
    key: str, label: str, row_label: str, rows: Rows, values: Mapping[str, int], column: str
) -> Breakdown:
    """An additive count table of one column whose total is the indicator's ``total``."""
    rows = _with_unknown(rows, values)
    return Breakdown(
        key=key,
        label=label,
        row_label=row_label,
        rows=rows,
        columns=(("count", column),),
        values=tuple((values.get(k, 0),) for k, _label in rows),
    )


def _stats_table(
    key: str, label: str, row_label: str, rows: Rows, waits: Mapping[str, list[int]]
) -> Breakdown:
    """n, median and p90 per row (a stats table: a row's minutes are hidden with its n)."""
    rows = _with_unknown(rows, waits)
    values = []
    for row_key, _label in rows:
        observed = sorted(waits.get(row_key, []))
        values.append((len(observed), nearest_rank(observed, 50), nearest_rank(observed, 90)))
    return Breakdown(
        key=key,
        label=label,
        row_label=row_label,
        rows=rows,
        columns=(("n", _("Seen")), ("median", _("Median minutes")), ("p90", _("90th percentile"))),
        values=tuple(values),
        column_kinds=("count", "minutes", "minutes"),
        additive=False,
        total_key=None,
    )


def _share_table(
    key: str,
    label: str,
    row_label: str,
    rows: Rows,
    used: Mapping[str, int],
    open_: Mapping[str, int],
) -> Breakdown:
    rows = _with_unknown(rows, open_)
    return Breakdown(
        key=key,
        label=label,
        row_label=row_label,
        rows=rows,
        columns=(("share", _("Share occupied")),),
        values=tuple((_share(used.get(k, 0), open_.get(k, 0)),) for k, _label in rows),
        column_kinds=("share",),
        additive=False,
        total_key=None,
    )


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _count(key: str, label: str, value: int) -> Figure:
    return Figure(key=key, label=label, value=value, kind="count")


def _percentile(key: str, label: str, value: float | None, kind: Kind, basis: str) -> Figure:
    return Figure(key=key, label=label, value=value, kind=kind, basis=basis)


# --- the indicators ---------------------------------------------------------------------------


@indicator(
    "U1",
    title=N_("Visits"),
    group="use",
    definition=N_(
        "Visits whose arrival falls in the period, excluding turned-away arrivals. "
        "Anonymous visits count."
    ),
    breakdowns=(N_("day"), N_("weekday × hour"), N_("site")),
)
def visits(ctx: Context) -> Result:
    rows = _counts(ctx, "visit")
    kinds = _by_dim(rows)
    by_day: dict[str, int] = defaultdict(int)
    grid = [[0] * 24 for _day in range(7)]
    by_site: dict[str, int] = defaultdict(int)
    for row in rows:
        by_day[row.day.isoformat()] += row.value
        grid[row.day.weekday()][row.hour] += row.value
        by_site[str(row.site_id)] += row.value
    period = ctx.scope.period
    days = tuple(
        (d.isoformat(), date_format(d, "D j M Y")) for d in _days(period.first, period.last)
    )
    return Result(
        code="U1",
        figures=(
            _count("total", _("Visits"), sum(kinds.values())),
            replace(
                _count("registered", _("Visits by registered clients"), kinds.get("registered", 0)),
                part_of="total",
            ),
            replace(
                _count("anonymous", _("Anonymous visits"), kinds.get("anonymous", 0)),
                part_of="total",
            ),
        ),
        breakdowns=(
            _one_way("by_day", _("Visits by day"), _("Day"), days, by_day, _("Visits")),
            Breakdown(
                key="by_weekday_hour",
                label=_("Visits by weekday and hour of arrival"),
                row_label=_("Weekday"),
                rows=tuple((str(d), str(WEEKDAYS[d])) for d in range(7)),
                columns=_hour_rows(),
                values=tuple(tuple(row) for row in grid),
            ),
            _one_way(
                "by_site",
                _("Visits by site"),
                _("Site"),
                tuple((str(s.pk), s.name) for s in ctx.scope.sites),
                by_site,
                _("Visits"),
            ),
        ),
    )


@indicator(
    "U2",
    title=N_("Supervised consumption episodes"),
    group="use",
    definition=N_("Consumption sessions started in the period."),
    breakdowns=(N_("route"), N_("substance"), N_("space kind")),
)
def episodes(ctx: Context) -> Result:
    rows = _counts(ctx, "episode.route", "episode.substance", "episode.space")
    by_route = _by_dim(rows, "episode.route")
    by_substance = _by_dim(rows, "episode.substance")
    by_space = _by_dim(rows, "episode.space")
    label = _("Episodes")
    return Result(
        code="U2",
        figures=(_count("total", _("Supervised consumption episodes"), sum(by_route.values())),),
        breakdowns=(
            _one_way(
                "by_route",
                _("Episodes by route"),
                _("Route"),
                _labelled(Route.choices),
                by_route,
                label,
            ),
            _one_way(
                "by_substance",
                _("Episodes by substance"),
                _("Substance"),
                _substance_rows(),
                by_substance,
                label,
            ),
            _one_way(
                "by_space_kind",
                _("Episodes by space kind"),
                _("Space kind"),
                _space_rows(),
                by_space,
                label,
            ),
        ),
    )


@indicator(
    "U3",
    title=N_("Unique clients"),
    group="use",
    definition=N_(
        "Distinct registered clients with at least one visit in the period (anonymous visits "
        "excluded). Health Canada counts per site per calendar month: for longer periods, "
        "report both the distinct count and the sum of monthly counts."
    ),
    breakdowns=(N_("gender"), N_("age band"), N_("site")),
)
def unique_clients(ctx: Context) -> Result:
    counts = _clients(ctx)
    label = _("Clients")
    notes: tuple[str, ...] = ()
    if len(ctx.scope.period.months()) > 1 or len(ctx.scope.sites) > 1:
        notes = (
            _(
                "The sum of monthly counts counts a client once in each calendar month and at "
                "each site they visited, as Health Canada's returns do; the distinct count "
                "counts them once."
            ),
        )
    by_site = tuple((str(s.pk), s.name) for s in ctx.scope.sites)
    return Result(
        code="U3",
        figures=(
            _count("total", _("Unique clients"), counts.total),
            _count("monthly_sum", _("Sum of monthly counts (Health Canada)"), counts.monthly_sum),
        ),
        breakdowns=(
            _one_way(
                "by_gender",
                _("Clients by gender"),
                _("Gender"),
                _gender_rows(),
                counts.by_gender,
                label,
            ),
            _one_way(
                "by_age_band",
                _("Clients by age band"),
                _("Age band"),
                _age_rows(),
                counts.by_age_band,
                label,
            ),
            Breakdown(
                key="by_site",
                label=_("Clients by site"),
                row_label=_("Site"),
                rows=by_site,
                columns=(("count", label),),
                values=tuple((counts.by_site.get(s.pk, 0),) for s in ctx.scope.sites),
                additive=False,
                total_key=None,
                note=_("A client who visited several sites counts at each."),
            ),
        ),
        notes=notes,
    )


@indicator(
    "U4",
    title=N_("New registrations"),
    group="use",
    definition=N_("Clients whose first visit at any site of the network falls in the period."),
    breakdowns=(N_("gender"), N_("age band")),
)
def new_registrations(ctx: Context) -> Result:
    new: NewClients = facts.new_registrations(ctx.scope)
    label = _("Clients")
    return Result(
        code="U4",
        figures=(_count("total", _("New registrations"), new.total),),
        breakdowns=(
            _one_way(
                "by_gender",
                _("New clients by gender"),
                _("Gender"),
                _gender_rows(),
                new.by_gender,
                label,
            ),
            _one_way(
                "by_age_band",
                _("New clients by age band"),
                _("Age band"),
                _age_rows(),
                new.by_age_band,
                label,
            ),
        ),
        notes=(
            ()
            if ctx.scope.is_network
            else (
                _(
                    "A client counts here when their first visit anywhere in the network "
                    "was at this site."
                ),
            )
        ),
    )


@indicator(
    "U5",
    title=N_("Visits per client"),
    group="use",
    definition=N_(
        "U1 (registered only) ÷ U3; also the distribution (median, p90). Medians and "
        "percentiles are nearest-rank: the smallest value with at least that share of the "
        "observations at or below it."
    ),
)
def visits_per_client(ctx: Context) -> Result:
    registered = ctx.value("U1.registered")
    clients = ctx.value("U3.total")
    per_client = _clients(ctx).visits_per_client
    return Result(
        code="U5",
        figures=(
            Figure(
                key="ratio",
                label=_("Visits per client"),
                value=registered / clients if registered is not None and clients else None,
                kind="ratio",
                numerator="U1.registered",
                denominator="U3.total",
                note=_("Visits by registered clients (U1) ÷ unique clients (U3)"),
            ),
            _percentile(
                "median",
                _("Median visits per client"),
                nearest_rank(per_client, 50),
                "number",
                "U3.total",
            ),
            _percentile(
                "p90",
                _("90th percentile of visits per client"),
                nearest_rank(per_client, 90),
                "number",
                "U3.total",
            ),
        ),
    )


@indicator(
    "U6",
    title=N_("Turn-aways"),
    group="use",
    definition=N_(
        "Arrivals turned away, with reason (capacity/closing, not eligible, banned, "
        "intoxicated, other)."
    ),
    breakdowns=(N_("reason"),),
)
def turnaways(ctx: Context) -> Result:
    by_reason = _by_dim(_counts(ctx, "turnaway"))
    return Result(
        code="U6",
        figures=(_count("total", _("Turn-aways"), sum(by_reason.values())),),
        breakdowns=(
            _one_way(
                "by_reason",
                _("Turn-aways by reason"),
                _("Reason"),
                _turnaway_rows(),
                by_reason,
                _("Turn-aways"),
            ),
        ),
    )


@indicator(
    "U7",
    title=N_("Waiting time"),
    group="use",
    definition=N_(
        "From arrival to the start of the first session; median and p90; and people who left "
        "the queue before being seen. Medians and percentiles are nearest-rank: the smallest "
        "value with at least that share of the observations at or below it."
    ),
    breakdowns=(N_("hour"), N_("space kind")),
)
def waiting_time(ctx: Context) -> Result:
    everyone: list[int] = []
    by_hour: dict[str, list[int]] = defaultdict(list)
    by_kind: dict[str, list[int]] = defaultdict(list)
    rows = _counts(ctx, "wait", "left_queue")
    for row in rows:
        if row.measure != "wait":
            continue
        kind, minutes = row.dim.rsplit(":", 1)
        waits = [int(minutes)] * row.value
        everyone += waits
        by_hour[f"{row.hour:02d}"] += waits
        by_kind[kind] += waits
    everyone.sort()
    left = sum(row.value for row in rows if row.measure == "left_queue")
    return Result(
        code="U7",
        figures=(
            _count("seen", _("Visits seen"), len(everyone)),
            _percentile(
                "median", _("Median wait"), nearest_rank(everyone, 50), "minutes", "U7.seen"
            ),
            _percentile(
                "p90", _("90th percentile wait"), nearest_rank(everyone, 90), "minutes", "U7.seen"
            ),
            _count("left_queue", _("Left the queue before being seen"), left),
        ),
        breakdowns=(
            _stats_table(
                "by_hour",
                _("Waits by hour of arrival"),
                _("Hour of arrival"),
                _hour_rows(),
                by_hour,
            ),
            _stats_table(
                "by_space_kind", _("Waits by space kind"), _("Space kind"), _space_rows(), by_kind
            ),
        ),
    )


@indicator(
    "U8",
    title=N_("Occupancy"),
    group="use",
    definition=N_("Share of open space-minutes that were occupied or in clear-down."),
    breakdowns=(N_("space kind"), N_("hour")),
)
def occupancy(ctx: Context) -> Result:
    open_at: dict[tuple[int, date, int, str], int] = defaultdict(int)
    for row in _open_minutes(ctx):
        open_at[row.site_id, row.day, row.hour, row.dim] += row.value
    used_at: dict[tuple[int, date, int, str], int] = defaultdict(int)
    for row in _counts(ctx, "occupied"):
        used_at[row.site_id, row.day, row.hour, row.dim] += row.value
    # A seat cannot be used longer than it is open: use outside the opening hours (or in a
    # space now out of service) is left out, and said.
    outside = 0
    used_kind: dict[str, int] = defaultdict(int)
    open_kind: dict[str, int] = defaultdict(int)
    used_hour: dict[str, int] = defaultdict(int)
    open_hour: dict[str, int] = defaultdict(int)
    for key in open_at.keys() | used_at.keys():
        _site, _day, hour, kind = key
        available = open_at.get(key, 0)
        used = min(used_at.get(key, 0), available)
        outside += used_at.get(key, 0) - used
        used_kind[kind] += used
        open_kind[kind] += available
        used_hour[f"{hour:02d}"] += used
        open_hour[f"{hour:02d}"] += available
    notes: list[str] = []
    if outside:
        notes.append(
            _(
                "Records show %(minutes)s seat-minutes of use outside the opening hours or in "
                "spaces now out of service; they are not counted."
            )
            % {"minutes": f"{outside:,}"}
        )
    if not sum(open_kind.values()):
        notes.append(_("No space was open in the period, so there is no occupancy to show."))
    return Result(
        code="U8",
        figures=(
            Figure(
                key="share",
                label=_("Occupancy"),
                value=_share(sum(used_kind.values()), sum(open_kind.values())),
                kind="share",
                note=_("of open seat-minutes, in consumption spaces"),
            ),
        ),
        breakdowns=(
            _share_table(
                "by_space_kind",
                _("Occupancy by space kind"),
                _("Space kind"),
                _space_rows(),
                used_kind,
                open_kind,
            ),
            _share_table(
                "by_hour", _("Occupancy by hour"), _("Hour"), _hour_rows(), used_hour, open_hour
            ),
        ),
        notes=tuple(notes),
    )


@indicator(
    "U9",
    title=N_("Alternative location"),
    group="use",
    definition=N_(
        "What clients said they would otherwise have done: public (street, park, stairwell, "
        "car), semi-public (public toilet, shelter, hostel), private, would not have used. "
        '"Public consumption episodes averted" = episodes whose answer was public.'
    ),
)
def alternative_location(ctx: Context) -> Result:
    rows = _counts(ctx, "otherwise", "episode.otherwise")
    by_group = _by_dim(rows, "otherwise")
    episodes_by_group = _by_dim(rows, "episode.otherwise")
    public = episodes_by_group.get("public", 0)
    answered = sum(n for group, n in episodes_by_group.items() if group != "unknown")
    return Result(
        code="U9",
        figures=(
            _count("total", _("Visits"), sum(by_group.values())),
            _count("public_episodes_averted", _("Public consumption episodes averted"), public),
            _count("answered_episodes", _("Episodes whose visit has an answer"), answered),
            Figure(
                key="public_share",
                label=_("Share of answered episodes that would have been in public"),
                value=_share(public, answered),
                kind="share",
                numerator="U9.public_episodes_averted",
                denominator="U9.answered_episodes",
            ),
        ),
        breakdowns=(
            _one_way(
                "by_group",
                _("Visits by where they would otherwise have used"),
                _("Would otherwise have used"),
                _otherwise_rows(),
                by_group,
                _("Visits"),
            ),
        ),
    )
