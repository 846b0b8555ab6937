"""The adopted tables take this app's names."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reconciliation", "0001_initial")]

    operations = [
        migrations.AlterModelTable(name="reconciliationrun", table=None),
        migrations.AlterModelTable(name="reconciliationfinding", table=None),
    ]
