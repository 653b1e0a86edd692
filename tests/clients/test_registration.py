"""Registering a new client: the network's code scheme, the duplicate warning, a big new code
to write on the card, idempotent submission, and refusing bad input without writing."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.urls import reverse

from saferoom.clients.models import Client, Intake
from saferoom.core.models import AuditEvent, IdempotencyKey
from saferoom.sites.models import ClientCodeScheme, IntakeQuestion
from tests.clients.conftest import (
    CHOSEN,
    NDTMS,
    ONTARIO,
    post_registration,
    register_url,
    register_via_http,
    use_scheme,
)


def test_the_registration_form_asks_for_the_networks_scheme_and_gender(as_desk, site_a):
    html = as_desk.get(register_url(site_a)).content.decode()
    for name in ("initials", "date_of_birth", "sex", "gender", "idempotency_key"):
        assert f'name="{name}"' in html
    assert 'name="chosen_name"' not in html


def test_a_registered_client_gets_a_big_new_code_to_write_on_their_card(as_desk, site_a, desk):
    response = post_registration(as_desk, site_a, years_of_use="6", residence_area="nr2")
    assert response.status_code == 200
    client = Client.objects.get()
    html = response.content.decode()
    assert f'<p class="code code-big">{client.display_code}</p>' in html
    assert "Write this code on the client" in html
    assert reverse("floor:checkin", kwargs={"site": site_a.slug, "client": client.pk}) in html
    assert "Check in now" in html
    assert (client.gender, client.year_of_birth) == ("female", 1987)
    assert (client.registered_site, client.registered_by) == (site_a, desk)
    assert client.scheme == ClientCodeScheme.INITIALS_DOB_SEX
    assert re.fullmatch(r"[0-9a-f]{64}", client.linkage_hash)
    intake = Intake.objects.get(client=client)
    assert (intake.years_of_use, intake.residence_area) == (6, "NR2")
    event = AuditEvent.objects.get(action="client.registered")
    assert (event.object_label, event.site_label, event.actor_label) == (
        client.display_code,
        "Riverside",
        "dana.desk",
    )


def test_the_gender_scheme_uses_its_gender_and_year_for_the_client(as_desk, site_a):
    use_scheme(site_a.network, ClientCodeScheme.GENDER_LETTERS_YOB)
    html = as_desk.get(register_url(site_a)).content.decode()
    assert 'name="letters"' in html
    assert 'name="initials"' not in html
    client = register_via_http(as_desk, site_a, {**ONTARIO, "gender": "male"})
    assert (client.gender, client.year_of_birth) == ("male", 1987)


def test_the_chosen_name_scheme_asks_year_of_birth_but_does_not_need_it(as_desk, site_a):
    use_scheme(site_a.network, ClientCodeScheme.CHOSEN_NAME)
    html = as_desk.get(register_url(site_a)).content.decode()
    assert "Year of birth (optional)" in html
    client = register_via_http(as_desk, site_a, {**CHOSEN, "year_of_birth": ""})
    assert client.year_of_birth is None
    assert client.gender == "not_stated"


def test_only_the_networks_intake_questions_are_asked(as_desk, site_a):
    network = site_a.network
    network.intake_questions = [IntakeQuestion.HOUSING_STATUS, "no_such_question"]
    network.save(update_fields=["intake_questions"])
    html = as_desk.get(register_url(site_a)).content.decode()
    assert 'name="housing_status"' in html
    assert 'name="years_of_use"' not in html
    assert 'name="residence_area"' not in html
    client = register_via_http(as_desk, site_a, {**NDTMS, "housing_status": "rough_sleeping"})
    assert client.intake.housing_status == "rough_sleeping"


def test_no_intake_questions_means_no_intake_record(as_desk, site_a):
    network = site_a.network
    network.intake_questions = []
    network.save(update_fields=["intake_questions"])
    client = register_via_http(as_desk, site_a)
    assert not Intake.objects.filter(client=client).exists()


# --- duplicates ------------------------------------------------------------------------------


def _warned(response: Any) -> str:
    assert response.status_code == 200
    html: str = response.content.decode()
    assert "They may already be registered" in html
    return html


def test_registering_the_same_details_again_warns_of_a_likely_duplicate(as_desk, site_a):
    first = register_via_http(as_desk, site_a)
    html = _warned(post_registration(as_desk, site_a, {**NDTMS, "initials": "q z"}))
    assert first.display_code in html
    assert "Open record" in html
    assert "Check in" in html
    assert Client.objects.count() == 1
    # What the form said is kept, so staff can confirm without typing it again.
    assert 'name="initials" value="q z"' in html


@pytest.mark.parametrize(
    ("registered", "typed_now"),
    [
        ({"initials": "QZ"}, {"initials": "ZQ"}),  # initials the other way round
        ({"date_of_birth": "1987-03-04"}, {"date_of_birth": "1987-04-03"}),  # day and month
    ],
    ids=["swapped initials", "swapped day and month"],
)
def test_a_likely_variant_of_someone_registered_warns_too(as_desk, site_a, registered, typed_now):
    first = register_via_http(as_desk, site_a, {**NDTMS, **registered})
    html = _warned(post_registration(as_desk, site_a, {**NDTMS, **typed_now}))
    assert first.display_code in html
    assert Client.objects.count() == 1


@pytest.mark.parametrize("year", ["1986", "1988"])
def test_a_year_of_birth_one_out_warns_under_the_gender_scheme(as_desk, site_a, year):
    use_scheme(site_a.network, ClientCodeScheme.GENDER_LETTERS_YOB)
    first = register_via_http(as_desk, site_a, ONTARIO)
    html = _warned(post_registration(as_desk, site_a, {**ONTARIO, "year_of_birth": year}))
    assert first.display_code in html


def test_different_details_register_without_a_warning(as_desk, site_a):
    register_via_http(as_desk, site_a)
    register_via_http(as_desk, site_a, {**NDTMS, "initials": "AB"})
    assert Client.objects.count() == 2


def test_staff_confirm_a_different_person_and_a_second_client_is_registered(as_desk, site_a):
    first = register_via_http(as_desk, site_a)
    html = _warned(post_registration(as_desk, site_a))
    found = re.search(r'name="confirm_different_from" value="([0-9,]+)"', html)
    assert found is not None
    ids = found.group(1)
    assert ids == str(first.pk)
    response = post_registration(as_desk, site_a, confirm_different_from=ids)
    assert "Client registered" in response.content.decode()
    second = Client.objects.exclude(pk=first.pk).get()
    assert second.linkage_hash == first.linkage_hash
    assert second.display_code != first.display_code
    event = AuditEvent.objects.filter(action="client.registered").order_by("-pk").first()
    assert event is not None
    assert event.detail["confirmed_different_from"] == [first.pk]


def test_confirming_covers_only_the_clients_that_were_on_screen(as_desk, site_a):
    first = register_via_http(as_desk, site_a)
    other = register_via_http(as_desk, site_a, {**NDTMS, "initials": "AB"})
    # Confirmed "different from AB…" but the details now match QZ…: warn again.
    response = post_registration(as_desk, site_a, confirm_different_from=str(other.pk))
    html = _warned(response)
    assert first.display_code in html
    assert Client.objects.count() == 2


def test_a_forged_confirmation_value_does_not_break_anything(as_desk, site_a):
    register_via_http(as_desk, site_a)
    for forged in ("abc", "<script>", "99999999", ",,,"):
        _warned(post_registration(as_desk, site_a, confirm_different_from=forged))
    assert Client.objects.count() == 1


# --- idempotency -------------------------------------------------------------------------------


def test_the_same_registration_sent_five_times_makes_one_client(as_desk, site_a):
    key = str(uuid.uuid4())
    codes = set()
    for _ in range(5):
        response = post_registration(as_desk, site_a, idempotency_key=key)
        assert response.status_code == 200
        codes.add(re.findall(r'class="code code-big">([A-Z0-9-]+)<', response.content.decode())[0])
    assert Client.objects.count() == 1
    assert codes == {Client.objects.get().display_code}
    assert AuditEvent.objects.filter(action="client.registered").count() == 1
    assert IdempotencyKey.objects.count() == 1


def test_the_same_form_sent_again_with_other_details_is_refused(as_desk, site_a):
    key = str(uuid.uuid4())
    post_registration(as_desk, site_a, idempotency_key=key)
    response = post_registration(as_desk, site_a, {**NDTMS, "initials": "AB"}, idempotency_key=key)
    assert response.status_code == 200
    assert "already sent with different details" in response.content.decode()
    assert Client.objects.count() == 1


def test_the_idempotency_key_survives_a_re_render(as_desk, site_a):
    key = str(uuid.uuid4())
    response = post_registration(as_desk, site_a, {**NDTMS, "initials": ""}, idempotency_key=key)
    assert f'name="idempotency_key" value="{key}"' in response.content.decode()


# --- hostile input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"initials": ""}, "Enter the initials."),
        ({"initials": "<script>alert(1)</script>"}, "at most 10 characters"),
        ({"initials": "<b>"}, "Initials are two letters"),
        ({"date_of_birth": "2031-02-30"}, "not a real date"),
        ({"date_of_birth": "yesterday"}, "not a real date"),
        ({"date_of_birth": "1800-01-01"}, "between"),
        ({"date_of_birth": "2030-01-01"}, "in the future"),
        ({"sex": "wizard"}, "Choose female, male or other for sex"),
        ({"gender": "robot"}, "Choose one of the genders offered"),
        ({"gender": ""}, "Choose a gender"),
        ({"years_of_use": "-1"}, "cannot be below 0"),
        ({"years_of_use": "200"}, "80 or fewer"),
        ({"years_of_use": "ten"}, "whole number"),
        ({"years_of_use": "60"}, "more years of drug use than the person has been alive"),
        ({"past_overdoses": "lots"}, "Choose one of the answers offered"),
        ({"housing_status": "<script>"}, "Choose one of the answers offered"),
        ({"residence_area": "NR2 4AB"}, "not the full postcode"),
        ({"residence_area": "<script>"}, "first part of a postcode"),
        ({"residence_area": "NR2" * 10}, "first part of a postcode"),
        ({"idempotency_key": "not-a-uuid"}, "This form is out of date"),
        ({"idempotency_key": ""}, "This form is out of date"),
    ],
)
def test_bad_registration_input_gets_a_clear_message_and_writes_nothing(
    as_desk, site_a, overrides, message
):
    response = post_registration(as_desk, site_a, {**NDTMS, **overrides})
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<script>alert" not in html
    assert "<script><" not in html
    assert Client.objects.count() == 0
    assert not AuditEvent.objects.filter(action="client.registered").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"year_of_birth": "1800"}, "between"),
        ({"year_of_birth": "abcd"}, "four digits"),
        ({"year_of_birth": "99999999999999999999"}, "between"),
        ({"letters": "AB"}, "exactly four letters"),
        ({"letters": "A" * 100}, "at most 20 characters"),
        ({"gender": "not_stated"}, "Choose female, male or other for gender"),
    ],
)
def test_bad_input_under_the_gender_scheme_writes_nothing(as_desk, site_a, overrides, message):
    use_scheme(site_a.network, ClientCodeScheme.GENDER_LETTERS_YOB)
    response = post_registration(as_desk, site_a, {**ONTARIO, **overrides})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Client.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"chosen_name": "x" * 61}, "at most 60 characters"),
        ({"chosen_name": "!"}, "at least two letters"),
        ({"chosen_name": ""}, "Enter the chosen name"),
        ({"year_of_birth": "2025"}, "between"),
    ],
)
def test_bad_input_under_the_chosen_name_scheme_writes_nothing(as_desk, site_a, overrides, message):
    use_scheme(site_a.network, ClientCodeScheme.CHOSEN_NAME)
    response = post_registration(as_desk, site_a, {**CHOSEN, **overrides})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Client.objects.count() == 0


def test_a_display_code_clash_is_retried_with_a_fresh_code(as_desk, site_a, monkeypatch):
    first = register_via_http(as_desk, site_a)
    from saferoom.clients import codes

    real = codes.new_display_code
    queue = [first.display_code, first.display_code]
    monkeypatch.setattr(codes, "new_display_code", lambda: queue.pop() if queue else real())
    second = register_via_http(as_desk, site_a, {**NDTMS, "initials": "AB"})
    assert second.display_code != first.display_code
