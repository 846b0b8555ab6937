# The stored answer becomes JSON text (jsonb does not keep key order; a replay must be the same answer).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("chargepay", "0001_initial")]

    operations = [
        migrations.RemoveField(model_name="idempotencyrecord", name="response_body"),
        migrations.AddField(model_name="idempotencyrecord", name="response_body", field=models.TextField(blank=True, default="")),
    ]
