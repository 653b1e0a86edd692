"""Seal the audit chain head (``audit_chain.head_seal``): an HMAC with SAFEROOM_AUDIT_KEY over
the last event's id and hash and the count of events appended, so that whoever gets past the
triggers cannot cut events off the end of the log and move the head back to the new last event.
The head already there is sealed as it stands (run ``saferoom audit-verify`` before upgrading),
as is the empty head 0004 made on a new database.

Reverse: the column goes, and the seal with it.
"""

from typing import Any

from django.db import migrations, models

from saferoom.core.audit_chain import head_seal


def seal_head(apps: Any, schema_editor: Any) -> None:
    AuditChainHead = apps.get_model("core", "AuditChainHead")
    for head in AuditChainHead.objects.all():
        head.seal = head_seal(
            last_id=head.last_id, last_hash=head.last_hash, appended=head.appended
        )
        head.save(update_fields=["seal"])


class Migration(migrations.Migration):
    dependencies = [("core", "0008_user_version")]

    operations = [
        migrations.AddField(
            model_name="auditchainhead",
            name="seal",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.RunPython(seal_head, migrations.RunPython.noop),
    ]
