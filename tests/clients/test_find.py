"""The desk's search: a code typed or scanned from the card, or the code-scheme details of a
client who lost their card. Searches are POSTs; a code never appears in a URL."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse

from saferoom.clients import actions
from saferoom.clients.models import Ban, Client
from saferoom.core.models import AuditEvent, User
from saferoom.sites.models import Site
from tests.clients.conftest import NDTMS, detail_url, find_by_code, find_url, register_via_http

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def client_a(as_desk, site_a) -> Client:
    return register_via_http(as_desk, site_a)


def _set_ban(client: Client, site: Site, manager: User, **kw: Any) -> Ban:
    import uuid

    return actions.set_ban(
        client=client,
        site=site,
        reason="violence",
        note="",
        starts_at=kw.get("starts_at", dt.datetime.now(dt.UTC)),
        expires_at=kw.get("expires_at"),
        by=manager,
        idempotency_key=uuid.uuid4(),
    )


def test_the_find_page_has_a_big_code_box_ready_for_typing_or_scanning(as_desk, site_a):
    response = as_desk.get(find_url(site_a))
    assert response.status_code == 200
    html = response.content.decode()
    box = re.findall(r'<input[^>]*name="code"[^>]*>', html)[0]
    for attribute in ("autofocus", 'autocomplete="off"', 'inputmode="text"', 'class="code-input"'):
        assert attribute in box
    assert '<label for="id_code">Client code</label>' in html
    # The second section: the scheme's details, for a client without a card.
    assert 'name="find-initials"' in html
    assert 'name="find-date_of_birth"' in html
    assert re.search(r'<form method="post"', html)


@pytest.mark.parametrize(
    "typing", [str.lower, lambda c: c.replace("-", ""), lambda c: " ".join(c), lambda c: c + "\r\n"]
)
def test_a_returning_client_is_found_by_the_code_however_it_is_typed(
    as_desk, site_a, client_a, typing
):
    response = find_by_code(as_desk, site_a, typing(client_a.display_code))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Client found" in html
    assert client_a.display_code in html
    assert "Female" in html
    assert "1987" in html
    assert "Riverside" in html
    assert detail_url(site_a, client_a) in html
    assert reverse("floor:checkin", kwargs={"site": site_a.slug, "client": client_a.pk}) in html


def test_the_result_card_shows_gender_year_and_age_band_and_when_and_where_registered(
    as_desk, site_a
):
    with time_machine.travel(NOW, tick=False):
        client = register_via_http(as_desk, site_a)
        html = find_by_code(as_desk, site_a, client.display_code).content.decode()
    assert "1987 (age 35–44)" in html
    assert "1 Jun 2026, Riverside" in html


def test_an_active_ban_shows_in_a_red_box_on_the_result_card(as_desk, site_a, client_a, manager):
    _set_ban(client_a, site_a, manager)
    html = find_by_code(as_desk, site_a, client_a.display_code).content.decode()
    box = html[html.index('class="alert-box"') :]
    assert "Banned" in box[:400]
    assert "Violence or threats" in box[:600]
    assert "until lifted" in box[:600]


def test_finding_a_client_is_audited_and_lets_the_worker_open_the_record(
    as_other_site_worker, site_b, as_desk, site_a, client_a
):
    # Oscar works at Eastgate; the client registered at Riverside and never came to Eastgate.
    assert as_other_site_worker.get(detail_url(site_b, client_a)).status_code == 404
    find_by_code(as_other_site_worker, site_b, client_a.display_code)
    assert as_other_site_worker.get(detail_url(site_b, client_a)).status_code == 200
    event = AuditEvent.objects.get(action="client.found", actor_label="oscar.other")
    assert event.object_label == client_a.display_code
    assert event.detail == {"by": "code"}


def test_an_unknown_code_says_so_and_is_audited_without_the_code(as_desk, site_a, client_a):
    other = client_a.display_code
    while other == client_a.display_code:
        from saferoom.clients.codes import new_display_code

        other = new_display_code()
    response = find_by_code(as_desk, site_a, other)
    assert response.status_code == 200
    assert f"No client has the code {other} in this network." in response.content.decode()
    event = AuditEvent.objects.get(action="client.search_not_found")
    assert other not in str(event.detail)
    assert event.object_label == ""


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Type or scan the client code."),
        ("K7F", "six letters and numbers"),
        ("<script>alert(1)</script>", "six letters and numbers"),
        ("x" * 500, "six letters and numbers"),
        ("B8S-Z25", "never use"),
    ],
)
def test_something_that_is_not_a_code_gets_a_clear_message(as_desk, site_a, typed, message):
    response = find_by_code(as_desk, site_a, typed)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<script>alert" not in html
    assert not AuditEvent.objects.filter(action__startswith="client.").exists()


def test_a_code_with_a_typo_is_caught_by_the_check_character(as_desk, site_a, client_a):
    code = client_a.display_code
    from saferoom.clients.codes import DISPLAY_ALPHABET

    wrong = next(ch for ch in DISPLAY_ALPHABET if ch != code[0])
    html = find_by_code(as_desk, site_a, wrong + code[1:]).content.decode()
    assert "typing mistake" in html


def test_a_code_in_the_query_string_is_ignored_searches_are_posts(as_desk, site_a, client_a):
    response = as_desk.get(find_url(site_a), {"code": client_a.display_code, "search": "code"})
    assert response.status_code == 200
    assert "Client found" not in response.content.decode()


def test_a_worker_of_another_network_never_finds_the_client_even_with_the_exact_code(
    as_other_network_worker, other_network_site, client_a
):
    response = find_by_code(as_other_network_worker, other_network_site, client_a.display_code)
    assert response.status_code == 200
    assert "No client has the code" in response.content.decode()
    response = as_other_network_worker.post(
        find_url(other_network_site),
        {"search": "attributes", **{f"find-{k}": v for k, v in NDTMS.items()}},
    )
    assert "Client found" not in response.content.decode()


def _by_details(http: HttpClient, site: Site, **overrides: str) -> Any:
    data = {"initials": "QZ", "date_of_birth": "14/03/1987", "sex": "female", **overrides}
    return http.post(
        find_url(site), {"search": "attributes", **{f"find-{k}": v for k, v in data.items()}}
    )


def test_a_client_who_lost_their_card_is_found_by_their_details(as_desk, site_a, client_a):
    response = _by_details(as_desk, site_a, initials="q.z.", date_of_birth="1987-03-14")
    html = response.content.decode()
    assert "Client found" in html
    assert client_a.display_code in html


def test_not_found_by_details_offers_registration_with_the_details_filled_in(as_desk, site_a):
    response = _by_details(as_desk, site_a)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not found: register as a new client" in html
    form = html[html.index('action="/sites/riverside/clients/register/"') :]
    assert 'name="initials" value="QZ"' in form
    assert 'name="date_of_birth" value="14/03/1987"' in form
    assert re.search(r'value="female"[^>]*checked', form)
    assert re.search(r'name="idempotency_key" value="[0-9a-f-]{36}"', form)
    assert Client.objects.count() == 0
    # The details went back in the page only: nothing in the URL or the session.
    assert "QZ" not in str(dict(as_desk.session))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"initials": "<script>"}, "Initials are two letters"),
        ({"initials": "Q" * 40}, "at most 10 characters"),
        ({"date_of_birth": "2031-02-30"}, "not a real date"),
        ({"date_of_birth": "30/02/1987"}, "not a real date"),
        ({"date_of_birth": "01/01/1800"}, "between"),
        ({"date_of_birth": "01/01/2099"}, "in the future"),
        ({"sex": "wizard"}, "Choose female, male or other"),
        ({"sex": ""}, "Choose female, male or other"),
    ],
)
def test_hostile_details_get_a_clear_message_and_find_nobody(
    as_desk, site_a, client_a, overrides, message
):
    response = _by_details(as_desk, site_a, **overrides)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<script>" not in html.split("<main", 1)[1].replace('type="text/javascript"', "")
    assert "Client found" not in html


def test_the_code_box_gives_up_its_focus_when_there_is_an_answer_to_read(as_desk, site_a, client_a):
    html = find_by_code(as_desk, site_a, client_a.display_code).content.decode()
    assert "autofocus" not in html
    html = find_by_code(as_desk, site_a, "K7F").content.decode()
    assert "autofocus" in html  # a mistyped code: straight back to the box
