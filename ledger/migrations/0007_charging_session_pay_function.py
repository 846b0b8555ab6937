"""The kilometer payment as one database function, `ledger_charging_session_pay`: the API key check, the link
lookup, the transaction row, the conditional debit and the entries in one statement, one round trip.
Its definition, and why it is written as it is, is ledger/sql/charging_session_pay.sql."""

from django.db import migrations

from core.sql import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_reconciliation")]

    operations = [
        RunSQLFile(
            "ledger",
            "sql/charging_session_pay.sql",
            reverse_sql="DROP FUNCTION IF EXISTS ledger_charging_session_pay("
            "text, text, text, text, bigint, text, text, jsonb, timestamptz);",
        ),
    ]
