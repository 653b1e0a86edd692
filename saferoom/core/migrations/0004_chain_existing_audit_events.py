"""Chain the audit events written before the hash chain existed, oldest first, and make the
chain head. Runs before the append-only triggers (0005), which would refuse these updates.

Reverse: the hashes are emptied and the head removed (the events themselves are untouched).
"""

from typing import Any

from django.db import migrations

from saferoom.core.audit_chain import CHAINED_FIELDS, HEAD_PK, row_hash


def chain_existing(apps: Any, schema_editor: Any) -> None:
    AuditEvent = apps.get_model("core", "AuditEvent")
    AuditChainHead = apps.get_model("core", "AuditChainHead")
    previous = ""
    last_id = 0
    count = 0
    batch = []
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=2000):
        values = {name: getattr(event, name) for name in CHAINED_FIELDS}
        event.prev_hash = previous
        event.row_hash = row_hash(previous, values)
        previous, last_id = event.row_hash, event.pk
        count += 1
        batch.append(event)
        if len(batch) >= 2000:
            AuditEvent.objects.bulk_update(batch, ["prev_hash", "row_hash"])
            batch = []
    if batch:
        AuditEvent.objects.bulk_update(batch, ["prev_hash", "row_hash"])
    AuditChainHead.objects.update_or_create(
        pk=HEAD_PK, defaults={"last_id": last_id, "last_hash": previous, "appended": count}
    )


def unchain(apps: Any, schema_editor: Any) -> None:
    apps.get_model("core", "AuditEvent").objects.update(prev_hash="", row_hash="")
    apps.get_model("core", "AuditChainHead").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0003_audit_hash_chain")]

    operations = [migrations.RunPython(chain_existing, unchain)]
