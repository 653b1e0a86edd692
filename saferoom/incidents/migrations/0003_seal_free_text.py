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
        ('incidents', '0002_incident_outcome_amendments'),
    ]

    operations = [
        migrations.AlterField(
            model_name='incident',
            name='location_detail',
            field=saferoom.core.fields.SealedTextField(blank=True, max_length=120, verbose_name='where exactly (no names)'),
        ),
        migrations.AlterField(
            model_name='incident',
            name='outcome_reason',
            field=saferoom.core.fields.SealedTextField(blank=True, max_length=300, verbose_name='why the outcome comes before the last intervention'),
        ),
        migrations.AlterField(
            model_name='incident',
            name='review_note',
            field=saferoom.core.fields.SealedTextField(blank=True, verbose_name="manager's review"),
        ),
        migrations.AlterField(
            model_name='incidentamendment',
            name='reason',
            field=saferoom.core.fields.SealedTextField(max_length=300),
        ),
        migrations.AlterField(
            model_name='incidentnote',
            name='text',
            field=saferoom.core.fields.SealedTextField(),
        ),
        migrations.AlterField(
            model_name='intervention',
            name='note',
            field=saferoom.core.fields.SealedTextField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name='interventionamendment',
            name='reason',
            field=saferoom.core.fields.SealedTextField(max_length=300),
        ),
        migrations.AlterField(
            model_name='outcomeamendment',
            name='reason',
            field=saferoom.core.fields.SealedTextField(max_length=300),
        ),
        seal_existing(
            {
                'incidents_incident': ['location_detail', 'outcome_reason', 'review_note'],
                'incidents_incidentamendment': ['reason'],
                'incidents_incidentnote': ['text'],
                'incidents_intervention': ['note'],
                'incidents_interventionamendment': ['reason'],
                'incidents_outcomeamendment': ['reason'],
            }
        ),
    ]
