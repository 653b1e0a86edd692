"""``saferoom rotate_identity_keys``: the name this command had when only identity records and
follow-up notes were encrypted. It now re-encrypts every encrypted field, as
``saferoom rotate_field_keys`` does."""

from __future__ import annotations

from saferoom.core.management.commands import rotate_field_keys


class Command(rotate_field_keys.Command):
    help = "Another name for rotate_field_keys. " + rotate_field_keys.Command.help
