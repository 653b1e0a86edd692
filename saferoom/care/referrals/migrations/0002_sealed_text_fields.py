"""Follow-up notes and identity records were encrypted by hand (``crypto.seal`` into
``sealed_note`` and ``sealed_details``); they become SealedTextFields (``note`` and
``details_json``) in the same columns, so key rotation finds them with every other sealed
field. Nothing changes in the database: the columns, their values and the check constraint
stay as they are."""

from django.db import migrations, models

import saferoom.core.fields


class Migration(migrations.Migration):

    dependencies = [
        ('referrals', '0001_referrals_follow_ups_identity_records'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name='identityrecord',
                    name='identity_withdrawn_erased',
                ),
                migrations.RenameField(
                    model_name='followup',
                    old_name='sealed_note',
                    new_name='note',
                ),
                migrations.AlterField(
                    model_name='followup',
                    name='note',
                    field=saferoom.core.fields.SealedTextField(blank=True, db_column='sealed_note', verbose_name='note'),
                ),
                migrations.RenameField(
                    model_name='identityrecord',
                    old_name='sealed_details',
                    new_name='details_json',
                ),
                migrations.AlterField(
                    model_name='identityrecord',
                    name='details_json',
                    field=saferoom.core.fields.SealedTextField(blank=True, db_column='sealed_details'),
                ),
                migrations.AddConstraint(
                    model_name='identityrecord',
                    constraint=models.CheckConstraint(condition=models.Q(('consent_withdrawn_at__isnull', True), ('details_json', ''), _connector='OR'), name='identity_withdrawn_erased'),
                ),
            ],
        ),
    ]
