"""`saferoom evaluate --site --period`: the uk-site preset filled from the site's own reports."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from saferoom.core.models import User
from saferoom.evaluation.site_figures import site_preset
from saferoom.reports.models import OperatingCost
from saferoom.reports.periods import parse_period
from saferoom.sites.models import Site


@pytest.fixture
def march_cost(site_a: Site, manager: User) -> OperatingCost:
    return OperatingCost.objects.create(
        site=site_a,
        month=dt.date(2026, 3, 1),
        amount=Decimal("31000.00"),
        entered_by=manager,
        entered_at=dt.datetime(2026, 4, 2, 9, tzinfo=dt.UTC),
    )


def test_the_site_counts_and_cost_fill_the_preset_scaled_to_a_year(
    site_a: Site, march_cost: OperatingCost
) -> None:
    figures = site_preset(site_a, parse_period("2026-03"), rule=None)
    assert figures.filled["cost.operating"] == pytest.approx(31000 * 365 / 31)
    assert figures.filled["site.overdoses"] == 0
    assert figures.filled["site.unique_clients"] == 0
    source = figures.preset.parameters["cost.operating"].source
    assert "Riverside" in source or site_a.name in source
    assert "C1" in source
    assert any("lower bound" in note for note in figures.notes)


def test_a_month_without_an_entered_cost_stays_a_required_input(site_a: Site) -> None:
    figures = site_preset(site_a, parse_period("2026-03"), rule=None)
    assert "cost.operating" not in figures.filled
    assert any(note.startswith("cost.operating") for note in figures.notes)
    assert figures.preset.parameters["cost.operating"].value is None


def test_the_command_names_what_the_reports_cannot_give(
    site_a: Site, march_cost: OperatingCost
) -> None:
    with pytest.raises(CommandError) as refused:
        call_command("evaluate", "--site", site_a.slug, "--period", "2026-03")
    message = str(refused.value)
    assert "--set" in message  # the first input still missing is named, with how to give it
    for filled in ("site.unique_clients", "site.overdoses", "cost.operating"):
        assert filled not in message


@pytest.mark.django_db
def test_an_unknown_site_or_bad_period_is_refused_plainly(site_a: Site) -> None:
    with pytest.raises(CommandError, match="No site is called"):
        call_command("evaluate", "--site", "nowhere", "--period", "2026-03")
    with pytest.raises(CommandError):
        call_command("evaluate", "--site", site_a.slug, "--period", "March")
