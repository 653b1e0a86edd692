"""Signals that let other areas keep their records in step with the client registry, without
the registry importing them (dependencies point one way: clients <- floor <- incidents, care)."""

from django.dispatch import Signal

# Sent by ``clients.actions.merge_clients`` inside its transaction, after the visits and bans
# have moved, with ``kept`` and ``merged`` (Client). Each receiver moves its own records from
# ``merged`` to ``kept`` and returns ``{"what": [ids moved]}`` for the merge's audit event; a
# receiver that cannot move them raises ActionRefused, and the whole merge is undone.
clients_merged = Signal()
