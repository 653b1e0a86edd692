"""The referrals test kit: a Tuesday afternoon at Riverside, a client with a visit there, and
the forms a worker would fill."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from saferoom.care.referrals import actions
from saferoom.care.referrals.models import IdentityDetails, IdentityRecord, Referral
from saferoom.clients.actions import register_client
from saferoom.clients.codes import SchemeAttributes
from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Site

LONDON = ZoneInfo("Europe/London")
# A Tuesday afternoon: Riverside (09:00–21:00 every day) is open.
AFTERNOON = dt.datetime(2026, 3, 10, 14, 0, tzinfo=LONDON)
# What the identity tests type; the raw-database tests look for each of these.
SECRET_NAME = "Zebedee Quartermain"
SECRET_DOB = "1979-04-23"
SECRET_CONTACT = "07700 900123, flat 9 Nowhere Road"
SECRET_NHS = "943 476 5919"


@pytest.fixture(autouse=True)
def afternoon() -> Iterator[Any]:
    with time_machine.travel(AFTERNOON, tick=True) as traveller:
        yield traveller


_initials = itertools.cycle(f"{a}{b}" for a in "ABCDEFGHJK" for b in "LMNPRSTVWY")


@pytest.fixture
def register(manager: User) -> Callable[..., Client]:
    def make(site: Site, *, year: int = 1985) -> Client:
        return register_client(
            site=site,
            attrs=SchemeAttributes(
                initials=next(_initials), date_of_birth=dt.date(year, 6, 15), sex="male"
            ),
            gender="male",
            by=manager,
            idempotency_key=uuid.uuid4(),
            confirm_not_duplicate=True,
        )

    return make


@pytest.fixture
def client_a(register: Callable[..., Client], site_a: Site) -> Client:
    return register(site_a)


def make_visit(site: Site, client: Client | None, by: User, **extra: Any) -> Visit:
    """A visit in after-care (where referrals are usually made)."""
    now = dt.datetime.now(dt.UTC)
    return Visit.objects.create(
        site=site,
        client=client,
        anonymous=client is None,
        arrived_at=now - dt.timedelta(minutes=40),
        state=Visit.State.AFTERCARE,
        planned_route="inject",
        created_by=by,
        aftercare_started_at=now - dt.timedelta(minutes=10),
        **extra,
    )


@pytest.fixture
def visit_a(site_a: Site, client_a: Client, desk: User) -> Visit:
    return make_visit(site_a, client_a, desk)


def target(site: Site, code: str = "housing_options") -> CatalogueItem:
    return CatalogueItem.objects.get(
        network=site.network, site=None, kind="referral_target", code=code
    )


@pytest.fixture
def refer(nurse: User) -> Callable[..., Referral]:
    """Make a referral through the action (as the nurse unless told)."""

    def make(
        visit: Visit,
        *,
        code: str = "housing_options",
        urgency: str = "routine",
        by: User | None = None,
        **extra: Any,
    ) -> Referral:
        return actions.make_referral(
            site=visit.site,
            visit=visit,
            target=target(visit.site, code),
            urgency=urgency,
            by=by or nurse,
            idempotency_key=uuid.uuid4(),
            **extra,
        )

    return make


@pytest.fixture
def referral(refer: Callable[..., Referral], visit_a: Visit) -> Referral:
    return refer(visit_a)


def details() -> IdentityDetails:
    return IdentityDetails(
        full_name=SECRET_NAME,
        date_of_birth=SECRET_DOB,
        contact=SECRET_CONTACT,
        health_number=SECRET_NHS,
    )


@pytest.fixture
def identity(referral: Referral, manager: User) -> IdentityRecord:
    return actions.record_identity(
        referral=referral,
        details=details(),
        consent_scope=IdentityRecord.Scope.REFERRALS,
        consent_confirmed=True,
        by=manager,
        idempotency_key=uuid.uuid4(),
    )


def form(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"idempotency_key": str(uuid.uuid4())}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}
