"""The database keeps the site rules even when code bypasses the forms and actions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from saferoom.sites.models import OpeningHours, Site


@pytest.mark.parametrize("age", [9, 31])
def test_an_implausible_minimum_age_is_refused(site_a, age):
    with pytest.raises(IntegrityError), transaction.atomic():
        Site.objects.filter(pk=site_a.pk).update(min_age=age)


def test_an_empty_opening_period_is_refused(site_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        OpeningHours.objects.create(
            site=site_a, weekday=2, opens=dt.time(10, 0), closes=dt.time(10, 0)
        )


def test_a_second_site_with_the_same_name_in_a_network_is_refused(site_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        Site.objects.create(network=site_a.network, name="Riverside", slug="riverside-2")
