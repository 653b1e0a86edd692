"""Incident.anonymised_at: when the retention schedule cleared an incident's free text. The
job picks the incidents not yet done by it: their sealed text cannot be compared with the
marker the job writes into the amendments' reasons. Incidents the earlier job cleared have no
time yet, and are simply processed once more."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0004_incident_version'),
    ]

    operations = [
        migrations.AddField(
            model_name='incident',
            name='anonymised_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
