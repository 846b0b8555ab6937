"""Partner statements (closed months and their lines), never changed once closed (statement_immutable.sql)."""

import django.db.models.deletion
from django.db import migrations, models

from core.sql import RunSQLFile


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0007_customer_password_reset"),
        ("ledger", "0015_co2_offsets"),
    ]

    operations = [
        migrations.CreateModel(
            name="PartnerStatement",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField(help_text="The first day of the month (UTC).")),
                ("closed_at", models.DateTimeField()),
                ("offsets", models.PositiveIntegerField(help_text="How many lines (offsets and their reversals).")),
                ("kilometer_total", models.BigIntegerField(help_text="Kilometers billed: offsets less reversals.")),
                (
                    "partner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="statements", to="accounts.partner"
                    ),
                ),
            ],
            options={
                "ordering": ["-month", "partner_id"],
            },
        ),
        migrations.CreateModel(
            name="StatementLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kilometer", models.BigIntegerField(help_text="Billed: positive for an offset, negative for its reversal.")),
                (
                    "statement",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="lines", to="statements.partnerstatement"
                    ),
                ),
                (
                    "transaction",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="statement_line", to="ledger.transaction"
                    ),
                ),
            ],
            options={
                "ordering": ["transaction_id"],
            },
        ),
        migrations.AddConstraint(
            model_name="partnerstatement",
            constraint=models.UniqueConstraint(fields=("partner", "month"), name="one_statement_per_partner_month"),
        ),
        migrations.AddConstraint(
            model_name="partnerstatement",
            constraint=models.CheckConstraint(condition=models.Q(("month__day", 1)), name="statement_month_first_day"),
        ),
        RunSQLFile(
            "statements",
            "sql/statement_immutable.sql",
            reverse_sql="""
                DROP TRIGGER IF EXISTS statements_statementline_immutable ON statements_statementline;
                DROP TRIGGER IF EXISTS statements_partnerstatement_immutable ON statements_partnerstatement;
                DROP FUNCTION IF EXISTS statements_immutable();
            """,
        ),
    ]
