"""Clients with a record to disclose, and a second manager for segregation of duties."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from saferoom.care.referrals.models import IdentityDetails, IdentityRecord
from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor.models import Visit
from saferoom.sites.models import Site
from tests.conftest import make_user


def make_client(site: Site, by: User, *, name: str, year: int = 1985) -> Client:
    now = timezone.now()
    client = Client.objects.create(
        network=site.network,
        display_code=new_display_code(),
        linkage_hash=f"{year:064d}",
        scheme=site.network.client_code_scheme,
        gender="not_stated",
        year_of_birth=year,
        registered_at=now - dt.timedelta(days=30),
        registered_site=site,
        registered_by=by,
    )
    Visit.objects.create(
        site=site, client=client, arrived_at=now - dt.timedelta(days=2), created_by=by
    )
    IdentityRecord.objects.create(
        site=site,
        client=client,
        details_json=IdentityDetails(full_name=name).to_json(),
        consent_scope=IdentityRecord.Scope.REFERRALS,
        consent_given_at=now,
        recorded_by=by,
    )
    return client


@pytest.fixture
def second_manager(site_a: Site) -> User:
    return make_user("meg.manager", (Role.MANAGER, site_a))
