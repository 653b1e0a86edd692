"""``SealedTextField``: free text that is encrypted on its way into the database and decrypted
on its way out (``saferoom.core.crypto``), so code reads ``obj.note`` in clear and a dump of the
database, or a backup, holds only ciphertext.

Ciphertext is random, so a sealed field cannot be searched, ordered or compared: the only
lookups allowed are ``= ""`` and ``isnull`` (what retention and "has a note" need); anything
else fails loudly instead of silently matching nothing. ``max_length`` limits the clear text
(forms and ``full_clean``); the column is unbounded text, since ciphertext is longer."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import FieldError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.lookups import Exact, IsNull

from saferoom.core import crypto


class SealedExact(Exact):  # type: ignore[type-arg]
    """``field=""`` only: whether there is any text at all."""

    def get_prep_lookup(self) -> Any:
        if not (isinstance(self.rhs, str) and self.rhs == ""):
            raise FieldError(
                "A sealed (encrypted) field can only be compared with an empty text: its "
                "content cannot be searched in the database."
            )
        return super().get_prep_lookup()


class SealedTextField(models.TextField):  # type: ignore[type-arg]
    """Text encrypted at rest with the field keys; read and written in clear."""

    description = "Text encrypted at rest"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.max_length is not None:
            self.validators.append(MaxLengthValidator(self.max_length))

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return crypto.unseal(value) if value else value

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        value = super().get_db_prep_value(value, connection, prepared)
        return crypto.seal(value) if value else value

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "exact":
            return SealedExact
        if lookup_name == "isnull":
            return IsNull
        return None

    def get_transform(self, lookup_name: str) -> Any:
        return None


def sealed_fields() -> list[tuple[type[models.Model], SealedTextField]]:
    """Every sealed field of every installed model: what key rotation and restore checks
    cover, so a new sealed field is covered without being listed anywhere."""
    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        for field in meta.local_concrete_fields:
            if isinstance(field, SealedTextField):
                found.append((model, field))
    return found
