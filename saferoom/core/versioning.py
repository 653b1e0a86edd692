"""Version-checked edits: two people editing the same record (on two tablets, or one tablet
replaying an edit made offline) never silently overwrite each other.

An editable record carries a ``version`` (1 when made). An edit form holds the version it was
opened on; the action that saves it passes it as ``expected_version`` and, in its transaction,
calls :func:`expect` once the row is locked and :func:`bump` when it writes. ``bump`` is a
conditional UPDATE (``... SET version = version + 1 WHERE id = %s AND version = expected``), so
even without the lock only one of two edits made from the same version can win. The loser gets
:class:`StaleEdit` (code ``stale_edit``) and nothing is written: its transaction, audit event
included, is rolled back. The page then shows both versions for a person to merge
(``saferoom.core.conflicts``); the API answers 409.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from saferoom.core.errors import ActionRefused

STALE_EDIT = "stale_edit"
# A record's version when it is made.
FIRST_VERSION = 1
# The version a form carries for a record that does not exist yet (a client's first intake).
NOT_YET_RECORDED = 0


def version_field() -> models.PositiveIntegerField[int, int]:
    """The ``version`` column of an editable record. ``db_default`` too, so that rows written
    by raw SQL (the simulation's bulk writer) start at 1 as well."""
    return models.PositiveIntegerField(
        gettext_lazy("version"),
        default=FIRST_VERSION,
        db_default=FIRST_VERSION,
        editable=False,
        help_text=gettext_lazy("Counts the saved edits; one made from an older one is refused."),
    )


class StaleEdit(ActionRefused):
    """The record changed after the form was opened (``expected``); it is now at ``current``.
    Nothing was written."""

    def __init__(self, *, expected: int, current: int) -> None:
        super().__init__(
            _(
                "Someone else changed this record while you were editing. Nothing was saved: "
                "compare what is saved now with what you typed, then save again."
            ),
            code=STALE_EDIT,
        )
        self.expected = expected
        self.current = current


def expect(record: Any, expected_version: int) -> None:
    """Refuse the edit unless ``record`` (read in this transaction, its row locked) is still at
    the version the form was opened on. Call it before any other check: the person needs to
    see the other change before anything else is said about theirs."""
    if record.version != expected_version:
        raise StaleEdit(expected=expected_version, current=record.version)


def bump(record: Any, expected_version: int) -> int:
    """Move ``record`` from ``expected_version`` to the next, in the edit's transaction, with a
    conditional UPDATE: if another edit got there first, no row matches and the edit is
    refused. Returns the new version (also set on ``record``)."""
    model = type(record)
    moved = model._default_manager.filter(pk=record.pk, version=expected_version).update(
        version=F("version") + 1
    )
    if not moved:
        current = model._default_manager.filter(pk=record.pk).values_list("version", flat=True)
        raise StaleEdit(expected=expected_version, current=current.first() or NOT_YET_RECORDED)
    record.version = expected_version + 1
    return int(record.version)


def bump_unchecked(record: Any) -> int:
    """A change to what the edit forms show made by something that is not one of them (an
    incident's kind tapped during the emergency, its outcome first recorded): open forms go
    stale so that their save cannot undo it unseen."""
    model = type(record)
    model._default_manager.filter(pk=record.pk).update(version=F("version") + 1)
    record.version = (
        model._default_manager.filter(pk=record.pk).values_list("version", flat=True).get()
    )
    return int(record.version)


class VersionInput(forms.IntegerField):
    """The hidden field of an edit form: the version of the record it was opened on."""

    def __init__(self, **kwargs: Any) -> None:
        out_of_date = gettext_lazy("This form is out of date. Reload the page and try again.")
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault("min_value", NOT_YET_RECORDED)
        kwargs.setdefault(
            "error_messages",
            {"required": out_of_date, "invalid": out_of_date, "min_value": out_of_date},
        )
        super().__init__(**kwargs)
