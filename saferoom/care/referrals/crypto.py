"""Moved to :mod:`saferoom.core.crypto` (every app's free text is sealed the same way); kept so
older imports still work."""

from saferoom.core.crypto import UnreadableField, new_key, reseal, seal, unseal

__all__ = ["UnreadableField", "new_key", "reseal", "seal", "unseal"]
