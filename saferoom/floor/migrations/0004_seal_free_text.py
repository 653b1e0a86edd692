"""Free text encrypted at rest (saferoom.core.fields.SealedTextField): the columns become
unbounded text (ciphertext is longer than the clear text it holds), then the text already in
them is encrypted with the newest SAFEROOM_FIELD_KEYS key. Reversible: backwards, the text is
decrypted before the columns get their old types back. Old clear copies can remain in free
database pages and in older backups until VACUUM and backup expiry (docs/operations.md)."""

import saferoom.core.fields
from django.db import migrations

from saferoom.core.sealing import seal_existing


class Migration(migrations.Migration):

    dependencies = [
        ('floor', '0003_board_sessions_checks_escalations_stops'),
    ]

    operations = [
        migrations.AlterField(
            model_name='mobilestop',
            name='note',
            field=saferoom.core.fields.SealedTextField(blank=True, max_length=200, verbose_name='note (no names)'),
        ),
        seal_existing(
            {
                'floor_mobilestop': ['note'],
            }
        ),
    ]
