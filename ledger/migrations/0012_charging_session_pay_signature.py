"""Bring the payment function to ledger/sql/charging_session_pay.sql on a database that already has one, and drop
the signature with a partner id argument, which nothing calls.

Backwards, the function stays as the file defines it: that is what migrating a new database to 0010 gives too.
"""

from django.db import migrations

from core.sql import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [("ledger", "0011_reconciliation_moves_out")]

    operations = [
        migrations.RunSQL(
            "DROP FUNCTION IF EXISTS ledger_charging_session_pay("
            "text, text, bigint, text, text, bigint, text, text, jsonb, timestamptz);",
            reverse_sql=migrations.RunSQL.noop,
        ),
        RunSQLFile("ledger", "sql/charging_session_pay.sql", reverse_sql=migrations.RunSQL.noop),
    ]
