"""Reconciliation runs and findings belong to the reconciliation app now: they leave the ledger's state only.
Their tables stay where they are until reconciliation/0001 adopts them (and 0002 renames them)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledger", "0010_backoffice"), ("reconciliation", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="reconciliationfinding",
                    name="first_run",
                ),
                migrations.RemoveField(
                    model_name="reconciliationfinding",
                    name="last_run",
                ),
                migrations.RemoveField(
                    model_name="reconciliationfinding",
                    name="resolved_by",
                ),
                migrations.DeleteModel(
                    name="ReconciliationRun",
                ),
                migrations.DeleteModel(
                    name="ReconciliationFinding",
                ),
            ],
        ),
    ]
