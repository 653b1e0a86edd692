"""Catalogues (substances, supplies, services, referral targets, turn-away reasons): managers
add entries for their site and edit, retire and restore them; administrators also manage the
network-wide entries. Entries are never deleted, and retired ones are no longer offered."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.sites import actions
from saferoom.sites.models import CatalogueItem, Site, catalogue_for
from tests.sites.helpers import audit_count, new_key


def list_url(site: Site, kind: str = "substances") -> str:
    return reverse("sites:catalogue", kwargs={"site": site.slug, "kind": kind})


def item_url(name: str, site: Site, item: CatalogueItem, kind: str = "substances") -> str:
    return reverse(f"sites:{name}", kwargs={"site": site.slug, "kind": kind, "pk": item.pk})


def entry_form(**overrides: str | None) -> dict[str, str]:
    data: dict[str, str | None] = {
        "idempotency_key": new_key(),
        "label": "Xylazine",
        "category": "sedative",
        "sort_order": "",
        "version": "1",  # the entry as made (a new entry's form has no version)
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def network_entry(site: Site, code: str = "heroin") -> CatalogueItem:
    return CatalogueItem.objects.get(network=site.network, site=None, kind="substance", code=code)


@pytest.fixture
def own_entry(site_a: Site, manager) -> CatalogueItem:
    return actions.create_catalogue_item(
        network=site_a.network,
        site=site_a,
        kind="substance",
        label="Nitazenes",
        category="opioid",
        by=manager,
    )


def test_the_list_shows_network_and_site_entries(as_manager, site_a, own_entry):
    html = as_manager.get(list_url(site_a)).content.decode()
    assert "Heroin" in html
    assert "Crack cocaine" in html
    assert "Nitazenes" in html
    assert "Only an administrator can change these." in html
    # A manager gets no change buttons for network-wide entries.
    assert item_url("catalogue_edit", site_a, network_entry(site_a)) not in html
    assert item_url("catalogue_edit", site_a, own_entry) in html


def test_a_manager_adds_a_site_only_substance_with_a_generated_code(as_manager, site_a, manager):
    response = as_manager.post(list_url(site_a), entry_form(label="Nitrous oxide"))
    assert response.status_code == 302
    item = CatalogueItem.objects.get(label="Nitrous oxide")
    assert (item.site_id, item.kind, item.code, item.category) == (
        site_a.pk,
        "substance",
        "nitrous_oxide",
        "sedative",
    )
    assert item in catalogue_for(site_a, "substance")
    assert AuditEvent.objects.get(action="catalogue.created").actor_label == manager.username


def test_codes_stay_unique_across_the_network(site_a, site_b, manager, admin):
    first = actions.create_catalogue_item(
        network=site_a.network,
        site=site_a,
        kind="supply",
        label="Foil sheets",
        category="smoking",
        by=manager,
    )
    second = actions.create_catalogue_item(
        network=site_b.network,
        site=site_b,
        kind="supply",
        label="Foil  sheets!",
        category="smoking",
        by=admin,
    )
    assert (first.code, second.code) == ("foil_sheets", "foil_sheets_2")


def test_a_label_with_no_latin_letters_still_gets_a_code(site_a, manager):
    item = actions.create_catalogue_item(
        network=site_a.network,
        site=site_a,
        kind="substance",
        label="海洛因",
        category="opioid",
        by=manager,
    )
    assert item.code == "substance"


def test_a_site_entry_does_not_appear_at_another_site(site_a, site_b, own_entry):
    assert own_entry in catalogue_for(site_a, "substance")
    assert own_entry not in catalogue_for(site_b, "substance")


def test_the_same_form_sent_five_times_makes_one_entry(as_manager, site_a):
    data = entry_form()
    for _ in range(5):
        assert as_manager.post(list_url(site_a), data).status_code == 302
    assert CatalogueItem.objects.filter(label="Xylazine").count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"label": "<script>alert(1)</script>"}, "&lt; and &gt; are not allowed"),
        ({"label": ""}, "This field is required"),
        ({"label": "x" * 81}, "at most 80 characters"),
        ({"label": "heroin"}, "There is already an entry called “Heroin” in this list"),
        ({"category": "explosive"}, "Choose a reporting group from the list"),
        # A category of another list is forged too: "housing" belongs to referral targets.
        ({"category": "housing"}, "Choose a reporting group from the list"),
        ({"sort_order": "-1"}, "Give the order as a whole number from 0"),
        ({"idempotency_key": "x"}, "This form is out of date"),
        # Only administrators may add entries for the whole network.
        ({"scope": "network"}, None),
    ],
)
def test_bad_and_hostile_entries_are_refused(as_manager, site_a, overrides, message):
    before_items, before_audit = CatalogueItem.objects.count(), audit_count()
    response = as_manager.post(list_url(site_a), entry_form(**overrides))
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    if message is None:
        # The scope field is not offered to managers, so a forged one is ignored: the entry
        # is made for this site only.
        assert response.status_code == 302
        assert CatalogueItem.objects.get(label="Xylazine").site_id == site_a.pk
        return
    assert response.status_code == 200
    assert message in html
    assert CatalogueItem.objects.count() == before_items
    assert audit_count() == before_audit


def test_an_administrator_adds_a_network_wide_entry(as_admin, site_a, site_b):
    response = as_admin.post(
        list_url(site_a, "services"),
        entry_form(label="Dental care", category="health", scope="network"),
    )
    assert response.status_code == 302
    item = CatalogueItem.objects.get(label="Dental care")
    assert item.site_id is None
    assert item in catalogue_for(site_b, "service")


def test_a_manager_edits_their_sites_entry_but_its_code_stays(as_manager, site_a, own_entry):
    url = item_url("catalogue_edit", site_a, own_entry)
    response = as_manager.post(
        url,
        {
            "label": "Nitazenes (e.g. isotonitazene)",
            "category": "opioid",
            "sort_order": "3",
            "version": "1",
        },
    )
    assert response.status_code == 302
    own_entry.refresh_from_db()
    assert (own_entry.label, own_entry.code, own_entry.sort_order) == (
        "Nitazenes (e.g. isotonitazene)",
        "nitazenes",
        3,
    )
    assert AuditEvent.objects.get(action="catalogue.updated").detail["label"]["from"] == "Nitazenes"


def test_editing_with_bad_input_changes_nothing(as_manager, site_a, own_entry):
    url = item_url("catalogue_edit", site_a, own_entry)
    for data in (
        {"label": "<b>x</b>", "category": "opioid", "version": "1"},
        {"label": "Heroin", "category": "opioid", "version": "1"},
        {"label": "Nitazenes", "category": "forged", "version": "1"},
    ):
        response = as_manager.post(url, data)
        assert response.status_code == 200
    own_entry.refresh_from_db()
    assert (own_entry.label, own_entry.category) == ("Nitazenes", "opioid")
    assert not AuditEvent.objects.filter(action="catalogue.updated").exists()


def test_a_manager_cannot_change_a_network_wide_entry(as_manager, site_a):
    heroin = network_entry(site_a)
    url = item_url("catalogue_edit", site_a, heroin)
    assert as_manager.get(url).status_code == 403
    assert as_manager.post(url, {"label": "Brown", "category": "opioid"}).status_code == 403
    response = as_manager.post(item_url("catalogue_retire", site_a, heroin), follow=True)
    assert (
        "Only an administrator can change entries used by every site" in response.content.decode()
    )
    heroin.refresh_from_db()
    assert (heroin.label, heroin.active) == ("Heroin", True)


def test_an_administrator_edits_a_network_wide_entry(as_admin, site_a):
    heroin = network_entry(site_a)
    response = as_admin.post(
        item_url("catalogue_edit", site_a, heroin),
        {"label": "Heroin (diamorphine)", "category": "opioid", "sort_order": "0", "version": "1"},
    )
    assert response.status_code == 302
    heroin.refresh_from_db()
    assert heroin.label == "Heroin (diamorphine)"


def test_another_sites_entry_cannot_be_reached(as_manager, site_a, site_b, admin):
    theirs = actions.create_catalogue_item(
        network=site_b.network,
        site=site_b,
        kind="substance",
        label="Spice",
        category="other",
        by=admin,
    )
    for name in ("catalogue_edit", "catalogue_retire", "catalogue_restore"):
        assert as_manager.post(item_url(name, site_a, theirs), {"label": "x"}).status_code == 404
    # Nor through a list of another kind.
    url = item_url("catalogue_edit", site_a, network_entry(site_a), kind="supplies")
    assert as_manager.get(url).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.label, theirs.active) == ("Spice", True)


def test_retire_and_restore(as_manager, site_a, own_entry):
    assert own_entry in catalogue_for(site_a, "substance")

    response = as_manager.post(item_url("catalogue_retire", site_a, own_entry), follow=True)
    assert "Nitazenes is retired" in response.content.decode()
    own_entry.refresh_from_db()
    assert own_entry.active is False
    assert own_entry not in catalogue_for(site_a, "substance")
    assert CatalogueItem.objects.filter(pk=own_entry.pk).exists()  # never deleted
    assert AuditEvent.objects.filter(action="catalogue.retired").count() == 1

    as_manager.post(item_url("catalogue_restore", site_a, own_entry))
    assert CatalogueItem.objects.get(pk=own_entry.pk).active is True
    assert own_entry in catalogue_for(site_a, "substance")
    assert AuditEvent.objects.filter(action="catalogue.restored").count() == 1


def test_a_retired_network_substance_is_no_longer_offered_anywhere(as_admin, site_a, site_b):
    crack = network_entry(site_a, "crack")
    assert as_admin.post(item_url("catalogue_retire", site_a, crack)).status_code == 302
    assert crack not in catalogue_for(site_a, "substance")
    assert crack not in catalogue_for(site_b, "substance")


def test_adding_a_label_that_was_retired_says_to_restore_it(as_manager, site_a, own_entry, manager):
    actions.retire_catalogue_item(item=own_entry, by=manager)
    response = as_manager.post(list_url(site_a), entry_form(label="nitazenes", category="opioid"))
    assert "restore it instead" in response.content.decode()


def test_the_database_refuses_a_duplicate_code(site_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        CatalogueItem.objects.create(
            network=site_a.network, kind="substance", code="heroin", label="Heroin again"
        )


def test_the_action_refuses_a_manager_adding_a_network_entry(site_a, manager):
    with pytest.raises(ActionRefused):
        actions.create_catalogue_item(
            network=site_a.network,
            site=None,
            kind="substance",
            label="X",
            category="other",
            by=manager,
        )
