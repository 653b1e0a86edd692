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
        ('core', '0006_security_alerts_and_break_glass'),
    ]

    operations = [
        migrations.AlterField(
            model_name='breakglassgrant',
            name='reason',
            field=saferoom.core.fields.SealedTextField(verbose_name='reason'),
        ),
        migrations.AlterField(
            model_name='securityalert',
            name='review_note',
            field=saferoom.core.fields.SealedTextField(blank=True),
        ),
        seal_existing(
            {
                'core_breakglassgrant': ['reason'],
                'core_securityalert': ['review_note'],
            }
        ),
    ]
