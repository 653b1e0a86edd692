"""``saferoom.wsgi`` with SQLite told never to sync (``PRAGMA synchronous=OFF``): the control of
the power-cut test (test_power_cut.py), a server that acknowledges writes the disk never got.
Only ever run by that test."""

from __future__ import annotations

from typing import Any

from django.db.backends.signals import connection_created

from saferoom.wsgi import application

__all__ = ["application"]


def _never_sync(sender: Any, connection: Any, **kwargs: Any) -> None:
    # Runs after the settings' init_command (synchronous=FULL) on every new connection.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous=OFF")


connection_created.connect(_never_sync)
