"""Who may open each site-settings page: managers and administrators; desk, floor and
evaluators are refused (403); a worker of another site is told the page does not exist (404)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from saferoom.core.models import AuditEvent
from saferoom.sites.models import CatalogueItem, Site, Space


@pytest.fixture
def own_entry(site_a: Site) -> CatalogueItem:
    return CatalogueItem.objects.create(
        network=site_a.network, site=site_a, kind="substance", code="xylazine", label="Xylazine"
    )


def pages(site: Site, desk_pk: int, entry_pk: int) -> list[str]:
    s = site.slug
    space = Space.objects.filter(site=site).first()
    assert space is not None
    return [
        reverse("sites:settings", kwargs={"site": s}),
        reverse("sites:rules", kwargs={"site": s}),
        reverse("sites:hours", kwargs={"site": s}),
        reverse("sites:spaces", kwargs={"site": s}),
        reverse("sites:space_new", kwargs={"site": s}),
        reverse("sites:space_edit", kwargs={"site": s, "pk": space.pk}),
        *(
            reverse("sites:catalogue", kwargs={"site": s, "kind": kind})
            for kind in (
                "substances",
                "supplies",
                "services",
                "referral-targets",
                "turn-away-reasons",
            )
        ),
        reverse("sites:catalogue_edit", kwargs={"site": s, "kind": "substances", "pk": entry_pk}),
        reverse("sites:staff", kwargs={"site": s}),
        reverse("sites:staff_new", kwargs={"site": s}),
        reverse("sites:staff_edit", kwargs={"site": s, "pk": desk_pk}),
    ]


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("as_manager", 200),
        ("as_admin", 200),
        ("as_desk", 403),
        ("as_nurse", 403),
        ("as_evaluator", 403),
        ("as_other_site_worker", 404),
    ],
)
def test_every_settings_page_answers_each_role_as_it_should(
    request, persona, status, site_a, desk, own_entry
):
    client = request.getfixturevalue(persona)
    for url in pages(site_a, desk.pk, own_entry.pk):
        response = client.get(url)
        assert response.status_code == status, url


def test_the_settings_page_leads_to_every_section(as_manager, site_a):
    response = as_manager.get(reverse("sites:settings", kwargs={"site": site_a.slug}))
    html = response.content.decode()
    for name in ("rules", "hours", "spaces", "staff", "staff_new"):
        assert reverse(f"sites:{name}", kwargs={"site": site_a.slug}) in html
    assert reverse("sites:catalogue", kwargs={"site": site_a.slug, "kind": "substances"}) in html
    # Network settings are for administrators only: a manager is not offered the link.
    assert reverse("sites:network", kwargs={"site": site_a.slug}) not in html


def test_an_administrator_is_offered_the_network_settings(as_admin, site_a):
    response = as_admin.get(reverse("sites:settings", kwargs={"site": site_a.slug}))
    assert reverse("sites:network", kwargs={"site": site_a.slug}) in response.content.decode()


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("as_admin", 200),
        ("as_manager", 403),
        ("as_desk", 403),
        ("as_nurse", 403),
        ("as_evaluator", 403),
        ("as_other_site_worker", 404),
    ],
)
def test_network_settings_are_for_administrators_only(request, persona, status, site_a):
    client = request.getfixturevalue(persona)
    response = client.get(reverse("sites:network", kwargs={"site": site_a.slug}))
    assert response.status_code == status


def test_an_unknown_list_is_not_found(as_manager, site_a):
    url = reverse("sites:catalogue", kwargs={"site": site_a.slug, "kind": "weapons"})
    assert as_manager.get(url).status_code == 404


def test_a_site_in_another_network_is_not_found_even_for_an_administrator(
    as_admin, other_network_site
):
    url = reverse("sites:settings", kwargs={"site": other_network_site.slug})
    assert as_admin.get(url).status_code == 404


def test_changes_need_a_post(as_manager, site_a):
    space = Space.objects.get(site=site_a, name="Booth 1")
    url = reverse("sites:space_return", kwargs={"site": site_a.slug, "pk": space.pk})
    assert as_manager.get(url).status_code == 405
    assert not AuditEvent.objects.filter(action__startswith="space.").exists()
