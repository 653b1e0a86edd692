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
        ('clients', '0003_refine_bans_merges_and_birth_years'),
    ]

    operations = [
        migrations.AlterField(
            model_name='ban',
            name='lift_reason',
            field=saferoom.core.fields.SealedTextField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name='ban',
            name='note',
            field=saferoom.core.fields.SealedTextField(blank=True, help_text='What happened, in a few words. Never write names, including staff names.', max_length=200, verbose_name='note (no names)'),
        ),
        migrations.AlterField(
            model_name='clientmerge',
            name='reason',
            field=saferoom.core.fields.SealedTextField(max_length=200, verbose_name='why these are the same person'),
        ),
        seal_existing(
            {
                'clients_ban': ['note', 'lift_reason'],
                'clients_clientmerge': ['reason'],
            }
        ),
    ]
