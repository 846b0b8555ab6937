"""Drop the partner-only index of ledger_transaction (see Transaction.partner): the state changes like Django's
AlterField(db_index=False), but the database only drops the index. Django's own SQL would also drop and re-add the
foreign key, whose validation scans the whole table under a lock that blocks payments."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "ledger_transaction_partner_id_dbff5dca"


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_partner_rfidtoken"),
        ("ledger", "0007_charging_session_pay_function"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="transaction",
                    name="partner",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="transactions",
                        to="accounts.partner",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "ledger_transaction" ("partner_id")',
                ),
            ],
        ),
    ]
