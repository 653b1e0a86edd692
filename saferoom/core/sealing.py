"""Moving existing free text in and out of sealed columns: the data migrations that turn a
field into a ``SealedTextField`` (and back), and re-encrypting every sealed value with the
newest key (``saferoom rotate_field_keys``).

All of it works on the raw column values with SQL, not through the models: a model's sealed
field would try to decrypt clear text (in a migration) or hide the ciphertext (in rotation).
Rows are taken in batches by primary key, each batch in its own transaction, and a row is only
rewritten if it still holds the value read (a concurrent write wins: it was sealed with the
newest key already)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, migrations, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from saferoom.core import crypto

BATCH = 500


def _each_batch(
    conn: BaseDatabaseWrapper,
    table: str,
    column: str,
    pk: str,
    handle: Callable[[list[tuple[Any, str]]], None],
    size: int = BATCH,
) -> None:
    """Call ``handle`` with the non-empty values of ``table.column``, ``size`` rows at a time,
    each batch in a transaction of its own that ``handle``'s writes are part of."""
    q = conn.ops.quote_name
    select = (
        f"SELECT {q(pk)}, {q(column)} FROM {q(table)} "  # noqa: S608 - quoted identifiers
        f"WHERE {q(pk)} > %s AND {q(column)} <> '' ORDER BY {q(pk)} LIMIT %s"
    )
    last: Any = 0
    while True:
        with transaction.atomic(using=conn.alias):
            with conn.cursor() as cursor:
                cursor.execute(select, [last, size])
                rows = [(row[0], str(row[1])) for row in cursor.fetchall()]
            if not rows:
                return
            handle(rows)
        last = rows[-1][0]


def _rewrite(
    conn: BaseDatabaseWrapper, table: str, column: str, pk: str, key: Any, old: str, new: str
) -> bool:
    q = conn.ops.quote_name
    with conn.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(table)} SET {q(column)} = %s "  # noqa: S608 - quoted identifiers
            f"WHERE {q(pk)} = %s AND {q(column)} = %s",
            [new, key, old],
        )
        return bool(cursor.rowcount)


def _convert(
    conn: BaseDatabaseWrapper,
    table: str,
    columns: Sequence[str],
    change: Callable[[str], str | None],
    pk: str = "id",
) -> int:
    done = 0
    for column in columns:

        def handle(rows: list[tuple[Any, str]], column: str = column) -> None:
            nonlocal done
            for key, value in rows:
                new = change(value)
                if new is not None and _rewrite(conn, table, column, pk, key, value, new):
                    done += 1

        _each_batch(conn, table, column, pk, handle)
    if conn.vendor == "postgresql":
        # Run the deferred foreign-key checks the updates queued now: PostgreSQL refuses to
        # ALTER a table with pending trigger events, and going backwards the column's type
        # changes next, in the same transaction.
        with conn.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return done


def _seal_clear(value: str) -> str | None:
    return None if crypto.opens(value) else crypto.seal(value)


def _unseal_sealed(value: str) -> str | None:
    return crypto.unseal(value) if crypto.opens(value) else None


def seal_existing(columns: dict[str, Sequence[str]]) -> migrations.RunPython:
    """A data migration encrypting the clear text already in ``columns`` ({table: [column]}).
    Values that are sealed already are left alone, so running it twice changes nothing;
    backwards, it decrypts them again (with the field keys set when it runs)."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        for table, names in columns.items():
            _convert(schema_editor.connection, table, names, _seal_clear)

    def backwards(apps: Any, schema_editor: Any) -> None:
        for table, names in columns.items():
            _convert(schema_editor.connection, table, names, _unseal_sealed)

    return migrations.RunPython(forwards, backwards, elidable=False)


# --- key rotation -----------------------------------------------------------------------------


@dataclass
class Rotated:
    """What rotation did to one sealed field."""

    label: str  # app_label.Model.field
    resealed: int = 0
    current: int = 0  # already sealed with the newest key
    unreadable: list[Any] = field(default_factory=list)  # primary keys

    def detail(self) -> dict[str, Any]:
        return {
            "resealed": self.resealed,
            "current": self.current,
            "unreadable": len(self.unreadable),
        }


def rotate(*, dry_run: bool = False, using: str = "default", size: int = BATCH) -> list[Rotated]:
    """Re-encrypt every sealed value of every sealed field with the newest field key.

    With ``dry_run``, only counts: how many values the newest key does not open yet (which
    would be re-encrypted) and how many no key opens."""
    from saferoom.core.fields import sealed_fields

    conn = connections[using]
    results = []
    for model, sealed in sealed_fields():
        meta = model._meta
        done = Rotated(f"{meta.app_label}.{meta.object_name}.{sealed.name}")
        table, column, pk = meta.db_table, sealed.column, str(meta.pk.column)

        def handle(
            rows: list[tuple[Any, str]],
            done: Rotated = done,
            where: tuple[str, str, str] = (table, column, pk),
        ) -> None:
            for key, token in rows:
                if crypto.is_current(token):
                    done.current += 1
                    continue
                try:
                    new = crypto.reseal(token)
                except crypto.UnreadableField:
                    done.unreadable.append(key)
                    continue
                if dry_run or _rewrite(conn, where[0], where[1], where[2], key, token, new):
                    done.resealed += 1
                else:  # rewritten meanwhile by saferoom itself, with the newest key
                    done.current += 1

        _each_batch(conn, table, column, pk, handle, size)
        results.append(done)
    return results
