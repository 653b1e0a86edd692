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
        ('governance', '0001_disclosures'),
    ]

    operations = [
        migrations.AlterField(
            model_name='disclosure',
            name='decision_note',
            field=saferoom.core.fields.SealedTextField(blank=True, max_length=300, verbose_name='note on the decision'),
        ),
        migrations.AlterField(
            model_name='disclosure',
            name='justification',
            field=saferoom.core.fields.SealedTextField(max_length=2000, verbose_name='why this disclosure is necessary'),
        ),
        seal_existing(
            {
                'governance_disclosure': ['justification', 'decision_note'],
            }
        ),
    ]
