"""CO2 offsets (DESIGN §3.6): the grid intensity table, seeded; the computation stored with each offset; the partner's
CO2 billing account; the km_co2_offset system account; the payment function with its service (kind) argument; a
computation is never changed (sql/co2_computation_immutable.sql).

The seed is ledger.co2.GRID_INTENSITY_SEED (its source and year are documented there and in the README): each
EU-27 country and a default ("*") for every other country. Finance edits the table in the admin.

Backwards, the payment function stays as the file defines it (as 0012 and 0013 do).
"""

import django.db.models.deletion
from django.db import migrations, models

from core.sql import RunSQLFile
from ledger.co2 import GRID_INTENSITY_SEED


def seed(apps, schema_editor):
    GridIntensity = apps.get_model("ledger", "GridIntensity")
    Account = apps.get_model("ledger", "Account")
    Partner = apps.get_model("accounts", "Partner")
    for country, figures in GRID_INTENSITY_SEED.items():
        GridIntensity.objects.get_or_create(country=country, defaults=figures)
    Account.objects.get_or_create(kind="SYSTEM", code="km_co2_offset", defaults={"unit": "KM"})
    for partner_id in Partner.objects.values_list("pk", flat=True):
        Account.objects.get_or_create(kind="BILLING", partner_id=partner_id, unit="KM")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_customer_password_reset"),
        ("ledger", "0014_card_credits"),
    ]

    operations = [
        migrations.CreateModel(
            name="Co2Computation",
            fields=[
                (
                    "transaction",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="co2_computation",
                        serialize=False,
                        to="ledger.transaction",
                    ),
                ),
                ("country", models.CharField(help_text="COUNTRY as sent.", max_length=3)),
                ("factor_country", models.CharField(help_text='The grid intensity row used ("*": the default).', max_length=2)),
                ("grams_per_kwh", models.DecimalField(decimal_places=2, max_digits=7)),
                ("factor_version", models.PositiveIntegerField()),
                ("factor_source", models.CharField(max_length=200)),
                ("factor_year", models.PositiveSmallIntegerField()),
                ("energy_kwh", models.DecimalField(decimal_places=6, max_digits=18)),
                (
                    "energy_estimated",
                    models.BooleanField(help_text="CONSUMED_ENERGY_KWH was empty: power × hours × load factor."),
                ),
                ("max_charging_power_kw", models.PositiveIntegerField()),
                ("session_hours", models.DecimalField(decimal_places=6, max_digits=18)),
                ("load_factor", models.DecimalField(decimal_places=3, max_digits=5)),
                ("km_per_kg", models.DecimalField(decimal_places=3, max_digits=9)),
                ("co2_grams", models.DecimalField(decimal_places=6, max_digits=20)),
                ("kilometer_computed", models.PositiveIntegerField()),
                ("kilometer_sent", models.PositiveIntegerField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name="GridIntensity",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "country",
                    models.CharField(
                        help_text='ISO 3166 alpha-2 code, or "*" for every country without its own row.',
                        max_length=2,
                        unique=True,
                    ),
                ),
                ("grams_per_kwh", models.DecimalField(decimal_places=2, help_text="gCO2e per kWh generated.", max_digits=7)),
                ("source", models.CharField(max_length=200)),
                ("year", models.PositiveSmallIntegerField(help_text="The year the figure describes.")),
                ("version", models.PositiveIntegerField(default=1, editable=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name_plural": "grid intensities",
                "ordering": ["country"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="account",
            name="account_kind_shape",
        ),
        migrations.RemoveConstraint(
            model_name="account",
            name="one_partner_account_per_unit",
        ),
        migrations.AlterField(
            model_name="account",
            name="code",
            field=models.CharField(
                blank=True,
                choices=[
                    ("km_issuance", "Kilometers issued (source of grants)"),
                    ("km_adjustment", "Kilometer corrections by staff"),
                    ("km_co2_offset", "Kilometers spent on CO2 offsets"),
                    ("usd_card_authorized", "Card charges authorized, not yet captured"),
                    ("usd_card_receivable", "Card charges captured, owed by the gateway until settlement"),
                    ("usd_card_settled", "Card charges settled by the gateway"),
                ],
                max_length=50,
                null=True,
                unique=True,
            ),
        ),
        migrations.AlterField(
            model_name="account",
            name="kind",
            field=models.CharField(
                choices=[
                    ("WALLET", "Customer wallet"),
                    ("PARTNER", "Partner"),
                    ("BILLING", "Partner CO2 billing"),
                    ("SYSTEM", "System"),
                ],
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="transaction",
            name="kind",
            field=models.CharField(
                choices=[
                    ("PAY_FOR_CHARGING_SESSION", "Pay for a charging session"),
                    ("CO2_OFFSET_CHARGING_SESSION", "CO2 offset of a charging session"),
                    ("CO2_DONATION", "Donation for CO2 offsets"),
                    ("KM_GRANT", "Kilometers granted"),
                    ("KM_ADJUSTMENT", "Kilometers adjusted by staff"),
                    ("CARD_TOPUP", "Cents topped up by card"),
                    ("CARD_CAPTURE", "Card charge captured"),
                    ("CARD_SETTLEMENT", "Card charge settled"),
                    ("CARD_REFUND", "Card charge voided or refunded"),
                    ("REVERSAL", "Reversal"),
                ],
                max_length=40,
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("balance__isnull", False),
                        ("code__isnull", True),
                        ("customer__isnull", False),
                        ("kind", "WALLET"),
                        ("partner__isnull", True),
                    ),
                    models.Q(
                        ("balance__isnull", True),
                        ("code__isnull", True),
                        ("customer__isnull", True),
                        ("kind", "PARTNER"),
                        ("partner__isnull", False),
                    ),
                    models.Q(
                        ("balance__isnull", True),
                        ("code__isnull", True),
                        ("customer__isnull", True),
                        ("kind", "BILLING"),
                        ("partner__isnull", False),
                    ),
                    models.Q(
                        ("balance__isnull", True),
                        ("code__isnull", False),
                        ("customer__isnull", True),
                        ("kind", "SYSTEM"),
                        ("partner__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="account_kind_shape",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("partner__isnull", False)),
                fields=("partner", "kind", "unit"),
                name="one_partner_account_per_unit",
            ),
        ),
        migrations.AddConstraint(
            model_name="gridintensity",
            constraint=models.CheckConstraint(condition=models.Q(("grams_per_kwh__gte", 0)), name="grid_intensity_not_negative"),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunSQL(
            "DROP FUNCTION IF EXISTS ledger_charging_session_pay("
            "text, text, text, text, bigint, text, text, jsonb, timestamptz);",
            reverse_sql=migrations.RunSQL.noop,
        ),
        RunSQLFile("ledger", "sql/charging_session_pay.sql", reverse_sql=migrations.RunSQL.noop),
        RunSQLFile(
            "ledger",
            "sql/co2_computation_immutable.sql",
            reverse_sql="""
                DROP TRIGGER IF EXISTS ledger_co2computation_immutable ON ledger_co2computation;
                DROP FUNCTION IF EXISTS ledger_co2computation_immutable();
            """,
        ),
    ]
