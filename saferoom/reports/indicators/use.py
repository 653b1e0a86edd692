"""Indicators of indicators.md (use): U1–U9, registered with saferoom.reports.registry.indicator
and computed only from :mod:`saferoom.reports.facts` (raw tables or rollups, same answers).

Every table lists all of its rows, zeros included, so a report has the same shape whatever
happened; a row the records hold that the lists below do not know is added at the end."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, cast

from django.utils.dates import MONTHS_3, WEEKDAYS, WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from saferoom.clients.models import AGE_BANDS, Gender
from saferoom.reports import facts
from saferoom.reports.facts import (
    ClientCounts,
    NewClients,
    Occupancy,
    counted_rank,
    nearest_rank,
)
from saferoom.reports.registry import Breakdown, Context, Figure, Kind, Result, indicator, one_way
from saferoom.sites.models import CatalogueItem, Route, Space

Rows = tuple[tuple[str, str], ...]

# --- facts, read once per report -------------------------------------------------------------


# The measures whose totals by dim the indicators read: asked for together, once per report.
_BY_DIM = (
    "turnaway",
    "otherwise",
    "left_queue",
    "episode.route",
    "episode.substance",
    "episode.space",
    "episode.otherwise",
)


def _totals(ctx: Context, measures: tuple[str, ...], by: tuple[str, ...]) -> dict[Any, int]:
    """Totals of ``measures`` by the keys ``by`` (``facts.totals``, keyed ``(measure,
    *keys)``), read once per report however many indicators use them."""
    cache = cast("dict[tuple[Any, ...], dict[Any, int]]", ctx.cache.setdefault("facts.totals", {}))
    if (measures, by) not in cache:
        cache[measures, by] = facts.totals(ctx.scope, measures, by)
    return cache[measures, by]


def _by_dim(ctx: Context, measure: str) -> dict[str, int]:
    """Totals of one measure by ``dim``."""
    found: dict[str, int] = defaultdict(int)
    for (m, dim), n in _totals(ctx, _BY_DIM, ("dim",)).items():
        if m == measure:
            found[dim] += n
    return dict(found)


def _clients(ctx: Context) -> ClientCounts:
    if "facts.clients" not in ctx.cache:
        ctx.cache["facts.clients"] = facts.unique_clients(ctx.scope)
    return cast("ClientCounts", ctx.cache["facts.clients"])


def _occupancy(ctx: Context) -> Occupancy:
    if "facts.occupancy" not in ctx.cache:
        ctx.cache["facts.occupancy"] = facts.occupancy(ctx.scope)
    return cast("Occupancy", ctx.cache["facts.occupancy"])


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


def _day_rows(first: date, last: date) -> Rows:
    """A row per day, labelled as ``date_format(day, "D j M Y")`` would (the names
    translated once, not once a day)."""
    weekdays = {d: str(name) for d, name in WEEKDAYS_ABBR.items()}
    months = {m: str(name).title() for m, name in MONTHS_3.items()}
    return tuple(
        (d.isoformat(), f"{weekdays[d.weekday()]} {d.day} {months[d.month]} {d.year}")
        for d in _days(first, last)
    )


# --- tables -----------------------------------------------------------------------------------


def _one_way(
    key: str, label: str, row_label: str, rows: Rows, values: Mapping[str, int], column: str
) -> Breakdown:
    """An additive count table of one column whose total is the indicator's ``total``, with a
    row for any key the values hold that ``rows`` does not."""
    return one_way(key, label, row_label, _with_unknown(rows, values), ("count", column), values)


def _stats_table(
    key: str, label: str, row_label: str, rows: Rows, waits: Mapping[str, Mapping[int, int]]
) -> Breakdown:
    """n, median and p90 per row, from how many waits of each length in minutes the row has
    (a stats table: a row's minutes are hidden with its n). The
    n add up to U7's visits seen, and are published with it as one table."""
    rows = _with_unknown(rows, waits)
    values = []
    for row_key, _label in rows:
        observed = waits.get(row_key, {})
        values.append(
            (sum(observed.values()), counted_rank(observed, 50), counted_rank(observed, 90))
        )
    return Breakdown(
        key=key,
        label=label,
        row_label=row_label,
        rows=rows,
        columns=(("n", _("Seen")), ("median", _("Median minutes")), ("p90", _("90th percentile"))),
        values=tuple(values),
        column_kinds=("count", "minutes", "minutes"),
        total_key="seen",
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
    kinds: dict[str, int] = defaultdict(int)
    by_day: dict[str, int] = defaultdict(int)
    by_site: dict[str, int] = defaultdict(int)
    for (_m, site_id, dim), n in _totals(ctx, ("visit",), ("site_id", "dim")).items():
        kinds[dim] += n
        by_site[str(site_id)] += n
    for (_m, day), n in _totals(ctx, ("visit",), ("day",)).items():
        by_day[day.isoformat()] += n
    grid = [[0] * 24 for _day in range(7)]
    for (_m, weekday, hour), n in _totals(ctx, ("visit",), ("weekday", "hour")).items():
        grid[weekday][hour] += n
    period = ctx.scope.period
    days = _day_rows(period.first, period.last)
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
    by_route = _by_dim(ctx, "episode.route")
    by_substance = _by_dim(ctx, "episode.substance")
    by_space = _by_dim(ctx, "episode.space")
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
    by_reason = _by_dim(ctx, "turnaway")
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
    # How many waits of each length in minutes: everyone, by hour of arrival, by space kind.
    everyone: dict[int, int] = defaultdict(int)
    by_hour: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    by_kind: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for (_m, hour, dim), n in _totals(ctx, ("wait",), ("hour", "dim")).items():
        kind, text = dim.rsplit(":", 1)
        minutes = int(text)
        everyone[minutes] += n
        by_hour[f"{hour:02d}"][minutes] += n
        by_kind[kind][minutes] += n
    left = sum(_by_dim(ctx, "left_queue").values())
    return Result(
        code="U7",
        figures=(
            _count("seen", _("Visits seen"), sum(everyone.values())),
            _percentile(
                "median", _("Median wait"), counted_rank(everyone, 50), "minutes", "U7.seen"
            ),
            _percentile(
                "p90", _("90th percentile wait"), counted_rank(everyone, 90), "minutes", "U7.seen"
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
    # A seat cannot be used longer than it is open: use outside the opening hours (or in a
    # space now out of service) is left out, and said (``facts.occupancy`` holds each site's
    # day, hour and kind to what was open).
    found = _occupancy(ctx)
    outside = found.outside
    used_kind, open_kind = found.used_kind, found.open_kind
    used_hour = {f"{hour:02d}": n for hour, n in found.used_hour.items()}
    open_hour = {f"{hour:02d}": n for hour, n in found.open_hour.items()}
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
    by_group = _by_dim(ctx, "otherwise")
    episodes_by_group = _by_dim(ctx, "episode.otherwise")
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
