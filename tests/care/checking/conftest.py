"""The checking area's test kit: a visit waiting at Riverside, a manager at Eastgate, and form
data filled the way a worker fills the drug check and alert forms."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from saferoom.care.checking import actions
from saferoom.care.checking.models import DrugAlert
from saferoom.clients.actions import register_client
from saferoom.clients.codes import SchemeAttributes
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor import actions as desk_actions
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Site
from tests.conftest import login, make_user

LONDON = ZoneInfo("Europe/London")
# A Tuesday afternoon: Riverside and Eastgate (09:00–21:00 every day) are open.
AFTERNOON = dt.datetime(2026, 3, 10, 14, 0, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def afternoon() -> Iterator[Any]:
    with time_machine.travel(AFTERNOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def manager_b(site_b: Site) -> User:
    return make_user("bea.manager", (Role.MANAGER, site_b))


@pytest.fixture
def as_manager_b(manager_b: User) -> Any:
    return login(manager_b)


@pytest.fixture
def nurse_b(site_b: Site) -> User:
    return make_user("ben.nurse", (Role.FLOOR, site_b))


@pytest.fixture
def as_nurse_b(nurse_b: User) -> Any:
    return login(nurse_b)


def substance(site: Site, code: str) -> CatalogueItem:
    return CatalogueItem.objects.get(network=site.network, site=None, kind="substance", code=code)


@pytest.fixture
def visit_a(site_a: Site, desk: User) -> Visit:
    """Someone registered and checked in at Riverside's desk through the real actions."""
    client = register_client(
        site=site_a,
        attrs=SchemeAttributes(initials="KL", date_of_birth=dt.date(1984, 6, 15), sex="male"),
        gender="male",
        by=desk,
        idempotency_key=uuid.uuid4(),
        confirm_not_duplicate=True,
    )
    return desk_actions.check_in(
        site=site_a,
        client=client,
        planned_route="inject",
        planned_substances=[substance(site_a, "heroin")],
        otherwise_location="street",
        would_use_alone="yes",
        eligibility={"old_enough": True, "first_time": False, "intoxicated": False},
        by=desk,
        idempotency_key=uuid.uuid4(),
    )


def check_form(**overrides: Any) -> dict[str, Any]:
    """A fentanyl strip, positive, before use, dose reduced: the commonest check at Insite."""
    data: dict[str, Any] = {
        "idempotency_key": str(uuid.uuid4()),
        "method": "fentanyl_strip",
        "strip_result": "positive",
        "expected": "",
        "found_other": "",
        "timing": "before",
        "decision": "reduce_dose",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def alert_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "idempotency_key": str(uuid.uuid4()),
        "severity": "danger",
        "message": "Nitazene found in what was sold as heroin. Use less, never alone.",
        "lasts": "1",
        "last_day": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def issue(manager: User, site_a: Site) -> Callable[..., DrugAlert]:
    """Issue an alert through the action, as Riverside's manager unless told."""

    def make(
        *,
        site: Site | None = None,
        by: User | None = None,
        days: float = 1,
        severity: str = "danger",
        message: str = "Nitazene in heroin",
    ) -> DrugAlert:
        now = dt.datetime.now(dt.UTC)
        return actions.issue_alert(
            site=site or site_a,
            severity=severity,
            message=message,
            expires_at=now + dt.timedelta(days=days),
            by=by or manager,
            idempotency_key=uuid.uuid4(),
        )

    return make
