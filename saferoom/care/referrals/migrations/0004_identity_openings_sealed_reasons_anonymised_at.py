"""Staff-typed reasons leave the audit trail (which can never be corrected, encrypted or
erased) and live only in their own records, encrypted at rest:

- a referral amendment's reason and an identity-access grant's reason become SealedTextFields
  (unbounded text: ciphertext is longer); the text already in them is encrypted with the
  newest SAFEROOM_FIELD_KEYS key, and decrypted again going backwards;
- IdentityOpening: who opened an identity record, when and why (the "other" reason in their
  words), which the ``identity.opened`` audit event now names instead of holding the words;
- Referral.anonymised_at: when the retention schedule cleared a referral's free text.

Audit events written before this migration keep the text they hold: the log is append-only
and hash-chained, so it cannot be changed; it goes when the events pass the audit period."""

import django.db.models.deletion
import saferoom.core.fields
from django.conf import settings
from django.db import migrations, models

from saferoom.core.sealing import seal_existing


class Migration(migrations.Migration):

    dependencies = [
        ('referrals', '0003_referral_version'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='referral',
            name='anonymised_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='identityaccessgrant',
            name='reason',
            field=saferoom.core.fields.SealedTextField(max_length=200, verbose_name='why they need it'),
        ),
        migrations.AlterField(
            model_name='referralamendment',
            name='reason',
            field=saferoom.core.fields.SealedTextField(max_length=200, verbose_name='why'),
        ),
        migrations.CreateModel(
            name='IdentityOpening',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField()),
                ('reason', models.CharField(choices=[('referral', 'To make or send the referral'), ('follow_up', 'To follow up the referral'), ('update', 'The person asked to check or update their details'), ('other', 'Other (say why)')], max_length=10, verbose_name='why')),
                ('note', saferoom.core.fields.SealedTextField(blank=True, max_length=200, verbose_name='why, in their words')),
                ('by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('record', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='openings', to='referrals.identityrecord')),
            ],
            options={
                'db_table': 'referrals_identityopening',
                'ordering': ['at', 'id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('reason__in', ['referral', 'follow_up', 'update', 'other'])), name='identity_opening_reason_valid'), models.CheckConstraint(condition=models.Q(models.Q(('reason', 'other'), _negated=True), models.Q(('note', ''), _negated=True), _connector='OR'), name='identity_opening_other_says_why')],
            },
        ),
        seal_existing(
            {
                'referrals_amendment': ['reason'],
                'referrals_identityaccessgrant': ['reason'],
            }
        ),
    ]
