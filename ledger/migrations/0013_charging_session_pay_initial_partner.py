"""The payment refuses a partner that is still INITIAL (ACCESS_DENIED): the function as ledger/sql/charging_session_pay.sql
now defines it, which reads the partner's status (accounts 0006).

Backwards, the function stays as the file defines it (as in 0012)."""

from django.db import migrations

from core.sql import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [("ledger", "0012_charging_session_pay_signature"), ("accounts", "0006_partner_registration")]

    operations = [RunSQLFile("ledger", "sql/charging_session_pay.sql", reverse_sql=migrations.RunSQL.noop)]
