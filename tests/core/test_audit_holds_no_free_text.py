"""The audit log records who did what, to which record, when, from where, but never the
content (checklist item 10): it is append-only, hash-chained and kept for 8 years, so text
written into it could never be corrected, encrypted later or erased by the retention schedule.
Every action that takes text staff type (``free_text_actions.FREE_TEXT_ACTIONS``) keeps it on
its own record only, which its audit event names."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from typing import Any

import pytest

import saferoom
from saferoom.core.models import AuditEvent
from tests.core.free_text_actions import (
    FREE_TEXT_ACTIONS,
    FREE_TEXT_ARGUMENTS,
    NOT_FREE_TEXT,
    Scene,
)

MARKER = "ZEBRA-MARKER-123"


def text() -> str:
    return f"{MARKER} near the back door"


def audit_trail_as_stored() -> str:
    """Every audit event's fields that could hold text, serialised as the database keeps them."""
    return "\n".join(
        json.dumps(event.detail, ensure_ascii=False, sort_keys=True)
        + f" {event.object_label} {event.actor_label} {event.site_label}"
        for event in AuditEvent.objects.order_by("pk")
    )


@pytest.fixture
def scene(network, site_a, desk, nurse, manager, admin) -> Scene:
    return Scene(network=network, site=site_a, desk=desk, nurse=nurse, manager=manager, admin=admin)


@pytest.mark.django_db
@pytest.mark.parametrize("action", sorted(FREE_TEXT_ACTIONS))
def test_typed_text_stays_on_its_record_and_out_of_the_audit_trail(action, scene):
    before = AuditEvent.objects.count()

    kept = FREE_TEXT_ACTIONS[action](scene, text())

    assert AuditEvent.objects.count() > before, "the action wrote no audit event to check"
    assert MARKER in kept, "the record lost the text: the pages read it from there"
    assert MARKER not in audit_trail_as_stored()


def _takes_free_text(function: Any) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins have no signature
        return False
    return "by" in parameters and any(
        p.kind == p.KEYWORD_ONLY and p.name in FREE_TEXT_ARGUMENTS for p in parameters.values()
    )


def actions_taking_free_text() -> set[str]:
    """Every public function of saferoom that acts ``by`` someone and takes a typed text."""
    found = set()
    for module_info in pkgutil.walk_packages(saferoom.__path__, "saferoom."):
        if ".migrations" in module_info.name or module_info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, function in vars(module).items():
            if (
                inspect.isfunction(function)
                and function.__module__ == module.__name__
                and not name.startswith("_")
                and _takes_free_text(function)
            ):
                found.add(f"{module.__name__}.{name}")
    return found


def test_every_action_taking_free_text_is_described():
    missing = sorted(actions_taking_free_text() - set(FREE_TEXT_ACTIONS) - set(NOT_FREE_TEXT))
    assert not missing, (
        "Describe these in tests/core/free_text_actions.py (FREE_TEXT_ACTIONS), so the test "
        f"above checks their text stays out of the audit trail: {missing}"
    )


def test_every_described_action_exists():
    for dotted in [*FREE_TEXT_ACTIONS, *NOT_FREE_TEXT]:
        module, _dot, name = dotted.rpartition(".")
        assert inspect.isfunction(getattr(importlib.import_module(module), name, None)), dotted
