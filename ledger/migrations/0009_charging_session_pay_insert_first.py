"""Nothing to apply: the payment function is defined by ledger/sql/charging_session_pay.sql, applied by 0007 (a new
database) and 0011 (a database that already has the function)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_transaction_partner_no_single_index")]

    operations = []
