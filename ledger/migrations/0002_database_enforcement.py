"""The database enforces the ledger (ledger/sql/, one file per rule; see core.sql):

- transaction_balanced.sql: a deferred constraint trigger, at commit, on every new entry and transaction:
  the transaction has at least two entries and they sum to zero per unit.
- entry_immutable.sql: entries are never updated or deleted.
- transaction_guard.sql: transactions are never deleted; the only update allowed is CONFIRMED → CANCELLED with
  every other column unchanged, once a reversal of that transaction exists.
"""

from django.db import migrations

from core.sql import RunSQLFile


def create_system_accounts(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    for code, unit in (("km_issuance", "KM"), ("km_adjustment", "KM")):
        Account.objects.get_or_create(kind="SYSTEM", code=code, defaults={"unit": unit})


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        RunSQLFile(
            "ledger",
            "sql/transaction_balanced.sql",
            reverse_sql="""
                DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_transaction;
                DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry;
                DROP FUNCTION IF EXISTS ledger_check_balanced();
            """,
        ),
        RunSQLFile(
            "ledger",
            "sql/entry_immutable.sql",
            reverse_sql="""
                DROP TRIGGER IF EXISTS ledger_entry_immutable ON ledger_entry;
                DROP FUNCTION IF EXISTS ledger_entry_immutable();
            """,
        ),
        RunSQLFile(
            "ledger",
            "sql/transaction_guard.sql",
            reverse_sql="""
                DROP TRIGGER IF EXISTS ledger_transaction_guard ON ledger_transaction;
                DROP FUNCTION IF EXISTS ledger_transaction_guard();
            """,
        ),
        migrations.RunPython(create_system_accounts, migrations.RunPython.noop),
    ]
