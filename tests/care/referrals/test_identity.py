"""The identity record: kept only with consent, encrypted at rest, opened only by named people
(the site's managers and administrators, and staff a manager has named), every opening and
every refusal audited; withdrawing consent erases the details. Nothing identifying reaches
the database in clear, an audit event, a log line, a URL or an error."""

from __future__ import annotations

import datetime as dt
import io
import logging
import uuid
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from saferoom.care.referrals import actions
from saferoom.care.referrals.models import (
    IdentityAccessGrant,
    IdentityDetails,
    IdentityOpening,
    IdentityRecord,
)
from saferoom.core import crypto
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from tests.care.referrals.conftest import (
    SECRET_CONTACT,
    SECRET_DOB,
    SECRET_NAME,
    SECRET_NHS,
    details,
    form,
    make_visit,
)
from tests.conftest import login, make_user
from tests.versions import version_of

SECRETS = [SECRET_NAME, "Quartermain", SECRET_DOB, "07700 900123", "Nowhere Road", SECRET_NHS]


def raw_rows(table: str) -> str:
    """Every column of every row of a table, as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (a fixed table name)
        return repr(cursor.fetchall())


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def open_as(record: IdentityRecord, user: Any, reason: str = "follow_up", note: str = "") -> Any:
    return actions.open_identity_record(record=record, reason=reason, note=note, by=user)


def open_url(record: IdentityRecord) -> str:
    return reverse("referrals:identity_open", kwargs={"site": record.site.slug, "pk": record.pk})


# --- encryption at rest ----------------------------------------------------------------------


def sealed_column(record: IdentityRecord) -> str:
    """The identity record's details as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sealed_details FROM referrals_identityrecord WHERE id = %s", [record.pk]
        )
        return str(cursor.fetchone()[0])


def test_the_database_holds_no_identity_in_clear(identity):
    raw = raw_rows("referrals_identityrecord")
    assert_no_secret(raw)
    assert sealed_column(identity).startswith("gAAAA")  # a Fernet token


def test_nothing_else_in_the_database_holds_it_either(identity, manager):
    open_as(identity, manager)
    for table in ["core_auditevent", "core_idempotencykey", "referrals_referral"]:
        assert_no_secret(raw_rows(table))


def test_a_manager_reads_back_exactly_what_was_recorded(identity, manager):
    assert open_as(identity, manager) == details()


def test_the_details_never_print_themselves(identity, manager):
    shown = open_as(identity, manager)
    assert_no_secret(repr(shown))


def test_a_changed_value_in_the_database_fails_to_decrypt(identity, manager):
    token = sealed_column(identity)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE referrals_identityrecord SET sealed_details = %s WHERE id = %s",
            [token[:-6] + "AAAAAA", identity.pk],
        )
    # Reading the record is refused, with a message that holds nothing of it.
    with pytest.raises(crypto.UnreadableField) as error:
        identity.refresh_from_db()
    assert_no_secret(str(error.value))
    assert "could not be decrypted" in str(error.value)


# --- key rotation ----------------------------------------------------------------------------


def test_keys_rotate_newest_encrypts_all_decrypt_and_the_command_reencrypts(
    referral, manager, desk
):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FIELD_KEYS=[old]):
        record = actions.record_identity(
            referral=referral,
            details=details(),
            consent_scope="referrals",
            consent_confirmed=True,
            by=manager,
            idempotency_key=uuid.uuid4(),
        )
        actions.record_follow_up(
            referral=referral,
            outcome="not_yet",
            method="phone",
            note="Call back after 3",
            by=desk,
            idempotency_key=uuid.uuid4(),
            expected_version=version_of(referral),
        )
    before = sealed_column(record)
    with override_settings(FIELD_KEYS=[new, old]):
        # Both keys listed: old values still read.
        assert open_as(record, manager) == details()
        out = io.StringIO()
        call_command("rotate_identity_keys", stdout=out)
        assert "referrals.IdentityRecord.details_json: 1 re-encrypted" in out.getvalue()
        assert "referrals.FollowUp.note: 1 re-encrypted" in out.getvalue()
    assert sealed_column(record) != before
    with override_settings(FIELD_KEYS=[new]):
        # The old key is gone and everything still reads.
        assert open_as(IdentityRecord.objects.get(pk=record.pk), manager) == details()
        assert referral.follow_ups.get().note == "Call back after 3"
    with override_settings(FIELD_KEYS=[old]), pytest.raises(crypto.UnreadableField):
        IdentityRecord.objects.get(pk=record.pk)


def test_rotation_stops_with_a_clear_message_when_a_key_is_missing(identity):
    from django.core.management.base import CommandError

    with (
        override_settings(FIELD_KEYS=[Fernet.generate_key().decode()]),
        pytest.raises(CommandError) as error,
    ):
        call_command("rotate_identity_keys")
    assert "Put back every key" in str(error.value)


# --- who may open it -------------------------------------------------------------------------


def test_opening_is_kept_with_its_reason_and_audited_without_the_content(identity, manager):
    open_as(identity, manager, reason="other", note="Housing team lost the form")
    opening = IdentityOpening.objects.get()
    assert (opening.record, opening.by, opening.reason) == (identity, manager, "other")
    assert opening.note == "Housing team lost the form"
    event = AuditEvent.objects.get(action="identity.opened")
    assert event.actor_id == manager.pk
    assert event.object_id == str(identity.pk)
    # The reason's code, and the opening that keeps the words: never the words themselves.
    assert event.detail == {
        "reason": "other",
        "opening": opening.pk,
        "note_given": True,
        "erased": False,
    }
    assert "Housing team" not in repr(event.detail)
    assert_no_secret(repr(event.detail) + event.object_label)


def test_the_database_refuses_an_other_reason_without_words(identity, manager):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        IdentityOpening.objects.create(
            record=identity, at=dt.datetime.now(dt.UTC), by=manager, reason="other", note=""
        )


def test_a_network_administrator_may_open_it(identity, admin):
    assert open_as(identity, admin) == details()


@pytest.mark.parametrize("persona", ["desk", "nurse", "evaluator"])
def test_everyone_else_is_refused_and_the_refusal_is_audited(request, identity, persona):
    user = request.getfixturevalue(persona)
    with pytest.raises(actions.IdentityAccessRefused):
        open_as(identity, user)
    event = AuditEvent.objects.get(action="identity.refused")
    assert event.actor_id == user.pk
    assert event.object_id == str(identity.pk)
    assert not AuditEvent.objects.filter(action="identity.opened").exists()


def test_a_manager_of_another_site_is_refused(identity, site_b):
    other_manager = make_user("meg.eastgate", (Role.MANAGER, site_b))
    with pytest.raises(actions.IdentityAccessRefused):
        open_as(identity, other_manager)


def test_a_named_desk_worker_may_open_it(identity, desk, manager, site_a):
    actions.grant_identity_access(
        site=site_a,
        user=desk,
        reason="Leads housing referrals",
        by=manager,
        idempotency_key=uuid.uuid4(),
    )
    assert open_as(identity, desk) == details()
    assert AuditEvent.objects.get(action="identity_access.granted").detail["user"] == desk.username


def test_a_grant_ends_when_it_expires(identity, desk, manager, site_a, afternoon):
    actions.grant_identity_access(
        site=site_a,
        user=desk,
        reason="Covering this week",
        by=manager,
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        idempotency_key=uuid.uuid4(),
    )
    assert actions.may_open_identity(desk, site_a)
    afternoon.shift(dt.timedelta(days=1, minutes=1))
    assert not actions.may_open_identity(desk, site_a)
    with pytest.raises(actions.IdentityAccessRefused):
        open_as(identity, desk)
    # A new grant after the old one lapsed is fine.
    actions.grant_identity_access(
        site=site_a, user=desk, reason="Again", by=manager, idempotency_key=uuid.uuid4()
    )
    assert actions.may_open_identity(desk, site_a)


def test_a_revoked_grant_opens_nothing(identity, desk, manager, site_a):
    grant = actions.grant_identity_access(
        site=site_a, user=desk, reason="Cover", by=manager, idempotency_key=uuid.uuid4()
    )
    actions.revoke_identity_access(grant=grant, by=manager)
    with pytest.raises(actions.IdentityAccessRefused):
        open_as(identity, desk)
    with pytest.raises(ActionRefused) as again:
        actions.revoke_identity_access(grant=grant, by=manager)
    assert again.value.code == "revoked"


def test_a_grant_does_not_outlive_the_job(identity, desk, manager, site_a):
    actions.grant_identity_access(
        site=site_a, user=desk, reason="Cover", by=manager, idempotency_key=uuid.uuid4()
    )
    desk.memberships.all().delete()
    assert not actions.may_open_identity(desk, site_a)


@pytest.mark.parametrize(
    ("grantee", "granter", "code"),
    [
        ("desk", "nurse", "not_manager"),
        ("evaluator", "manager", "not_staff"),
        ("other_site_worker", "manager", "not_staff"),
        ("admin", "manager", "already"),
    ],
)
def test_grants_only_by_managers_to_desk_or_floor_staff(request, site_a, grantee, granter, code):
    with pytest.raises(ActionRefused) as refused:
        actions.grant_identity_access(
            site=site_a,
            user=request.getfixturevalue(grantee),
            reason="Cover",
            by=request.getfixturevalue(granter),
            idempotency_key=uuid.uuid4(),
        )
    assert refused.value.code == code
    assert IdentityAccessGrant.objects.count() == 0


def test_a_second_grant_while_one_is_open_is_refused_and_a_replay_is_not(site_a, desk, manager):
    key = uuid.uuid4()
    kwargs = {"site": site_a, "user": desk, "reason": "Cover", "by": manager}
    first = actions.grant_identity_access(idempotency_key=key, **kwargs)
    assert actions.grant_identity_access(idempotency_key=key, **kwargs).pk == first.pk
    with pytest.raises(ActionRefused) as refused:
        actions.grant_identity_access(idempotency_key=uuid.uuid4(), **kwargs)
    assert refused.value.code == "already"


def test_opening_needs_a_reason(identity, manager):
    with pytest.raises(ActionRefused):
        open_as(identity, manager, reason="curious")
    with pytest.raises(ActionRefused):
        open_as(identity, manager, reason="other", note="  ")
    assert not AuditEvent.objects.filter(action="identity.opened").exists()
    assert not IdentityOpening.objects.exists()


# --- consent ---------------------------------------------------------------------------------


def record(referral: Any, by: Any, **kwargs: Any) -> IdentityRecord:
    kwargs.setdefault("consent_scope", "this_referral")
    kwargs.setdefault("consent_confirmed", True)
    kwargs.setdefault("details", details())
    return actions.record_identity(referral=referral, by=by, idempotency_key=uuid.uuid4(), **kwargs)


def test_without_consent_nothing_is_kept(referral, manager):
    with pytest.raises(ActionRefused) as refused:
        record(referral, manager, consent_confirmed=False)
    assert refused.value.code == "no_consent"
    assert IdentityRecord.objects.count() == 0


def test_a_desk_worker_cannot_record_an_identity_and_the_attempt_is_audited(referral, desk):
    with pytest.raises(actions.IdentityAccessRefused):
        record(referral, desk)
    assert IdentityRecord.objects.count() == 0
    assert AuditEvent.objects.filter(action="identity.refused", actor_id=desk.pk).exists()


def test_an_anonymous_visits_referral_cannot_carry_an_identity(site_a, desk, manager, refer):
    referral = refer(make_visit(site_a, None, desk))
    with pytest.raises(ActionRefused) as refused:
        record(referral, manager)
    assert refused.value.code == "anonymous"


def test_a_name_is_needed(referral, manager):
    with pytest.raises(ActionRefused) as refused:
        record(referral, manager, details=IdentityDetails(full_name="  "))
    assert refused.value.code == "bad_details"


def test_one_consented_record_per_client_and_site(identity, referral, manager, refer, visit_a):
    with pytest.raises(ActionRefused) as refused:
        record(refer(visit_a, code="gp"), manager)
    assert refused.value.code == "exists"


def test_a_record_kept_for_later_referrals_is_linked_to_the_next_one(
    identity, referral, manager, refer, visit_a
):
    later = refer(visit_a, code="gp")
    actions.link_identity(record=identity, referral=later, by=manager)
    assert set(identity.referrals.values_list("pk", flat=True)) == {
        referral.pk,
        later.pk,
    }


def test_a_record_for_one_referral_only_is_not_linked_to_another(referral, manager, refer, visit_a):
    only_this = record(referral, manager, consent_scope="this_referral")
    with pytest.raises(ActionRefused) as refused:
        actions.link_identity(record=only_this, referral=refer(visit_a, code="gp"), by=manager)
    assert refused.value.code == "scope"


def test_a_replayed_identity_form_keeps_one_record(referral, manager):
    key = uuid.uuid4()
    kwargs: dict[str, Any] = {
        "referral": referral,
        "details": details(),
        "consent_scope": "referrals",
        "consent_confirmed": True,
        "by": manager,
    }
    first = actions.record_identity(idempotency_key=key, **kwargs)
    assert actions.record_identity(idempotency_key=key, **kwargs).pk == first.pk
    kwargs["details"] = IdentityDetails(full_name="Someone Else")
    with pytest.raises(ActionRefused):
        actions.record_identity(idempotency_key=key, **kwargs)
    assert IdentityRecord.objects.count() == 1
    assert_no_secret(raw_rows("core_idempotencykey"))


def test_withdrawing_consent_erases_the_details(identity, desk, manager):
    actions.withdraw_consent(record=identity, by=desk)
    identity.refresh_from_db()
    assert identity.details_json == ""
    assert sealed_column(identity) == ""
    assert not identity.consented
    assert identity.consent_withdrawn_by == desk
    assert open_as(identity, manager) is None
    assert AuditEvent.objects.filter(action="identity.consent_withdrawn").count() == 1
    assert AuditEvent.objects.get(action="identity.opened").detail["erased"] is True
    with pytest.raises(ActionRefused) as again:
        actions.withdraw_consent(record=identity, by=desk)
    assert again.value.code == "withdrawn"


def test_after_withdrawal_they_may_consent_again(identity, desk, manager, referral):
    actions.withdraw_consent(record=identity, by=desk)
    assert record(referral, manager).consented


def test_the_database_refuses_withdrawn_consent_that_kept_the_details(identity, desk):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        IdentityRecord.objects.filter(pk=identity.pk).update(
            consent_withdrawn_at=dt.datetime.now(dt.UTC), consent_withdrawn_by=desk
        )


# --- through HTTP ----------------------------------------------------------------------------


def test_a_manager_records_and_opens_an_identity_and_it_never_reaches_a_url_or_log(
    as_manager, referral, site_a, caplog
):
    caplog.set_level(logging.DEBUG)
    new_url = reverse("referrals:identity_new", kwargs={"site": site_a.slug, "pk": referral.pk})
    assert as_manager.get(new_url).status_code == 200
    response = as_manager.post(
        new_url,
        form(
            full_name=SECRET_NAME,
            date_of_birth="23/04/1979",
            contact=SECRET_CONTACT,
            health_number=SECRET_NHS,
            consent_scope="this_referral",
            consent_confirmed="on",
        ),
    )
    assert response.status_code == 302
    assert_no_secret(response["Location"])
    record = IdentityRecord.objects.get()

    page = as_manager.get(response["Location"]).content.decode()
    assert "Open the identity record" in page
    assert_no_secret(page)

    page = as_manager.get(open_url(record)).content.decode()
    assert "Why are you opening it?" in page
    assert_no_secret(page)

    response = as_manager.post(open_url(record), {"reason": "referral"})
    page = response.content.decode()
    assert SECRET_NAME in page
    assert SECRET_NHS in page
    assert "23 April 1979" in page
    assert response["Cache-Control"] == "no-store"
    assert AuditEvent.objects.filter(action="identity.opened").count() == 1
    assert_no_secret(caplog.text)


def test_a_mistyped_birth_date_is_explained_without_echoing_it(as_manager, referral, site_a):
    url = reverse("referrals:identity_new", kwargs={"site": site_a.slug, "pk": referral.pk})
    response = as_manager.post(
        url,
        form(
            full_name=SECRET_NAME,
            date_of_birth="31/02/1979",
            consent_scope="this_referral",
            consent_confirmed="on",
        ),
    )
    page = response.content.decode()
    assert "Type the date of birth as day/month/year." in page
    assert True  # the field keeps what was typed for correction
    assert IdentityRecord.objects.count() == 0


@pytest.mark.parametrize("persona", ["as_desk", "as_nurse", "as_evaluator"])
def test_people_not_named_get_403_and_it_is_audited(request, identity, persona):
    browser = request.getfixturevalue(persona)
    assert browser.get(open_url(identity)).status_code == 403
    response = browser.post(open_url(identity), {"reason": "referral"})
    assert response.status_code == 403
    assert "Ask a manager" in response.content.decode()
    assert_no_secret(response.content.decode())
    assert AuditEvent.objects.filter(action="identity.refused").count() == 2


def test_a_desk_worker_cannot_reach_the_record_form(as_desk, referral, site_a):
    url = reverse("referrals:identity_new", kwargs={"site": site_a.slug, "pk": referral.pk})
    response = as_desk.post(
        url, form(full_name=SECRET_NAME, consent_scope="this_referral", consent_confirmed="on")
    )
    assert response.status_code == 403
    assert IdentityRecord.objects.count() == 0
    assert AuditEvent.objects.filter(action="identity.refused").count() == 1


def test_another_sites_worker_gets_not_found(as_other_site_worker, identity):
    assert as_other_site_worker.post(open_url(identity), {"reason": "referral"}).status_code == 404


def test_a_manager_names_a_desk_worker_who_then_opens_it(as_manager, identity, desk, site_a):
    access_url = reverse("referrals:access", kwargs={"site": site_a.slug})
    page = as_manager.get(access_url).content.decode()
    assert desk.display_name in page
    response = as_manager.post(access_url, form(user=desk.pk, reason="Housing lead", until=""))
    assert response.status_code == 302
    as_desk = login(desk)
    response = as_desk.post(open_url(identity), {"reason": "follow_up"})
    assert response.status_code == 200
    assert SECRET_NAME in response.content.decode()
    grant = IdentityAccessGrant.objects.get()
    as_manager.post(
        reverse("referrals:access_revoke", kwargs={"site": site_a.slug, "pk": grant.pk})
    )
    assert as_desk.post(open_url(identity), {"reason": "follow_up"}).status_code == 403


def test_the_access_page_is_for_managers(as_desk, as_evaluator, site_a):
    url = reverse("referrals:access", kwargs={"site": site_a.slug})
    assert as_desk.get(url).status_code == 403
    assert as_evaluator.get(url).status_code == 403


def test_a_desk_worker_records_that_consent_is_withdrawn(as_desk, identity, site_a):
    url = reverse("referrals:identity_withdraw", kwargs={"site": site_a.slug, "pk": identity.pk})
    assert as_desk.get(url).status_code == 200
    response = as_desk.post(url, follow=True)
    assert "Consent withdrawn" in response.content.decode()
    identity.refresh_from_db()
    assert not identity.consented
    assert_no_secret(raw_rows("referrals_identityrecord"))


def test_linking_through_the_referral_page(as_manager, identity, refer, visit_a, site_a):
    later = refer(visit_a, code="gp")
    page = as_manager.get(
        reverse("referrals:detail", kwargs={"site": site_a.slug, "pk": later.pk})
    ).content.decode()
    assert "Use the identity record already kept" in page
    as_manager.post(
        reverse("referrals:identity_link", kwargs={"site": site_a.slug, "pk": later.pk}),
        {"record": identity.pk},
    )
    assert identity.referrals.filter(pk=later.pk).exists()


def test_a_desk_worker_cannot_link_a_record_and_the_attempt_is_audited(
    as_desk, identity, refer, visit_a, site_a
):
    later = refer(visit_a, code="gp")
    response = as_desk.post(
        reverse("referrals:identity_link", kwargs={"site": site_a.slug, "pk": later.pk}),
        {"record": identity.pk},
    )
    assert response.status_code == 403
    assert not identity.referrals.filter(pk=later.pk).exists()
    assert AuditEvent.objects.filter(action="identity.refused").count() == 1
