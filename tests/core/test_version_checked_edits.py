"""Version-checked edits (checklist item 23): two people editing the same record on two
tablets, or one tablet replaying an edit made offline, never silently overwrite each other.

For every record staff can edit (``tests/core/versioned_records.py``): an edit made from the
saved version is saved and moves the version on; one made from an older version is refused
(``stale_edit``) with nothing written, audit trail included; the page answers 409 with both
versions and opens the form again on the saved one with the person's values; and of two edits
made from the same version at the same moment exactly one wins.

On PostgreSQL the race is real (threads, each with its own connection, released together by a
barrier). On SQLite, whose immediate transactions serialise writers, the edits run one after
the other, and the conditional UPDATE that decides the race is tested by letting the loser
past the first check."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.utils.html import escape

from saferoom.api.errors import from_refusal
from saferoom.core import conflicts, versioning
from saferoom.core.models import AuditEvent
from tests.core.versioned_records import (
    EDITABLE,
    INTAKE,
    REFERRAL_AMENDMENT,
    WITH_A_PAGE,
    ConflictScreen,
    Editable,
    World,
    afternoon,
    version_now,
    world,
)

__all__ = ["afternoon", "world"]

TITLE = "Someone else changed this record while you were editing"


def audits(action: str | None = None) -> int:
    events = AuditEvent.objects.all()
    return (events.filter(action=action) if action else events).count()


# --- The actions ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("editable", EDITABLE, ids=str)
def test_an_edit_from_the_saved_version_is_saved_and_moves_the_version_on(
    world: World, editable: Editable
) -> None:
    record = editable.make(world)
    before, version = editable.values(record), version_now(record)
    editable.edit(world, record, version, 1)
    assert version_now(record) == version + 1
    assert editable.values(record) != before
    event = AuditEvent.objects.filter(action=editable.audit).latest("id")
    assert event.detail["version"] == version + 1
    assert event.object_id == str(record.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("editable", EDITABLE, ids=str)
def test_an_edit_from_an_older_version_is_refused_and_writes_nothing(
    world: World, editable: Editable
) -> None:
    record = editable.make(world)
    opened = version_now(record)
    editable.edit(world, record, opened, 1)  # a colleague saves first
    saved, events = editable.values(record), audits()
    with pytest.raises(versioning.StaleEdit) as refused:
        editable.edit(world, record, opened, 2)
    assert refused.value.code == "stale_edit"
    assert (refused.value.expected, refused.value.current) == (opened, opened + 1)
    assert "Someone else changed this record" in refused.value.message
    assert editable.values(record) == saved
    assert version_now(record) == opened + 1
    assert audits() == events  # not even a refusal event: nothing was written


@pytest.mark.django_db
@pytest.mark.parametrize("editable", EDITABLE, ids=str)
def test_of_two_edits_from_one_version_the_second_is_refused_even_past_the_first_check(
    world: World, editable: Editable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race as SQLite cannot run it: both tablets passed the check of the version before
    either wrote. The conditional UPDATE lets only the first through."""
    record = editable.make(world)
    opened = version_now(record)
    monkeypatch.setattr(versioning, "expect", lambda record, expected_version: None)
    editable.edit(world, record, opened, 1)
    saved, events = editable.values(record), audits()
    with pytest.raises(versioning.StaleEdit):
        editable.edit(world, record, opened, 2)
    assert (editable.values(record), audits(), version_now(record)) == (saved, events, opened + 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("editable", EDITABLE, ids=str)
def test_two_tablets_saving_the_same_version_at_the_same_moment_leave_one_winner(
    world: World, editable: Editable
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a real race needs PostgreSQL's concurrent writers")
    record = editable.make(world)
    opened = version_now(record)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def save(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            editable.edit(world, record, opened, n)
            outcomes.append("saved")
        except versioning.StaleEdit as refusal:
            outcomes.append(refusal.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["saved", "stale_edit"]
    assert version_now(record) == opened + 1
    assert audits(editable.audit) == 1


@pytest.mark.django_db
def test_the_first_intake_of_a_client_is_recorded_from_version_0(world: World) -> None:
    intake = INTAKE.make(world)  # recorded with expected_version=0
    assert intake.version == versioning.FIRST_VERSION
    with pytest.raises(versioning.StaleEdit):  # a second "first" intake, from another tablet
        INTAKE.edit(world, intake, versioning.NOT_YET_RECORDED, 1)


@pytest.mark.django_db
def test_a_replayed_correction_is_answered_with_the_first_not_refused_as_stale(
    world: World,
) -> None:
    """An offline tablet sends the same correction again (same key, same version): it was
    saved the first time, so it gets that answer, not a conflict with itself."""
    from saferoom.care.referrals import actions

    referral = REFERRAL_AMENDMENT.make(world)
    opened, same = version_now(referral), "2f9a4c1e-0b7d-4e55-8d3a-6f1e2b9c7a10"
    due = referral.follow_up_due.replace(day=28)
    kwargs: dict[str, Any] = {
        "referral": referral,
        "follow_up_due": due,
        "reason": "Replayed",
        "expected_version": opened,
        "by": world.manager,
        "idempotency_key": same,
    }
    first = actions.amend_referral(**kwargs)
    again = actions.amend_referral(**kwargs)
    assert again.pk == first.pk
    assert version_now(referral) == opened + 1


# --- The pages ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("editable", WITH_A_PAGE, ids=str)
def test_a_stale_save_shows_both_versions_with_a_409_and_the_form_reopens_to_merge(
    world: World, editable: Editable
) -> None:
    page = editable.page
    assert page is not None
    record = editable.make(world)
    http = world.http(page.persona)
    url = page.url(world, record)
    opened = version_now(record)
    form = http.get(page.opens(world, record)).content.decode()
    assert re.search(rf'name="version" value="{opened}"', form), "the form carries its version"

    editable.edit(world, record, opened, 1)  # a colleague saves while the form is open
    saved, edits = editable.values(record), audits(editable.audit)
    response = http.post(url, page.data(world, record, opened, 2))

    assert response.status_code == 409
    html = response.content.decode()
    assert f"<h1>{TITLE}</h1>" in html
    screen = ConflictScreen(html)
    assert screen.row(page.label) == (
        page.shown(world, record, 1),  # what the colleague saved
        page.shown(world, record, 2),  # what this person tried to save
    )
    assert escape(str(conflicts.CHANGE_WORDS[editable.audit])) in html  # who changed it, and when
    assert '<th scope="col">' in html
    assert "Open the form again with my values" in html
    assert (editable.values(record), audits(editable.audit)) == (saved, edits)

    # The big button: the form again, on the saved version, filled in with their values.
    reopened = http.post(screen.action, screen.posted())
    assert reopened.status_code == 200
    again = reopened.content.decode()
    assert re.search(rf'name="version" value="{opened + 1}"', again)
    assert "with your values filled in" in again
    assert (editable.values(record), audits(editable.audit)) == (saved, edits)

    # Merged (here: their value kept) and saved on the current version.
    merged = {k: v if len(v) > 1 else v[0] for k, v in screen.posted().items()}
    merged.pop(conflicts.REOPEN)
    done = http.post(url, {**merged, "version": str(opened + 1)})
    assert done.status_code == 302, done.content.decode()[:3000]
    assert version_now(record) == opened + 2
    assert audits(editable.audit) == edits + 1


@pytest.mark.django_db
def test_an_htmx_stale_save_takes_the_whole_page(world: World) -> None:
    page = REFERRAL_AMENDMENT.page
    assert page is not None
    record = REFERRAL_AMENDMENT.make(world)
    REFERRAL_AMENDMENT.edit(world, record, 1, 1)
    response = world.http(page.persona).post(
        page.url(world, record), page.data(world, record, 1, 2), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("body", "innerHTML")


# --- The API --------------------------------------------------------------------------------


def test_the_api_answers_a_stale_edit_with_409_and_the_current_version() -> None:
    error = from_refusal(versioning.StaleEdit(expected=3, current=5))
    assert (error.status, error.code, error.current_version) == (409, "stale_edit", 5)
    assert error.headers == {"ETag": '"5"'}
    assert "Nothing was written" in error.detail
