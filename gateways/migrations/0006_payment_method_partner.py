"""A card on record belongs to the partner that stored it (DESIGN §4.1).

Backfill, for cards stored before: the partner whose service account first charged the card (charges were made
with the card sent in the request or the one on record, so its first charge is the best witness of who stored
it); a card never charged belongs to the customer's only linked partner; otherwise nobody can tell, and the card
is left to no partner (no partner sees or charges it; the partner re-sends `payment_method` once).
"""

import django.db.models.deletion
from django.db import migrations, models


def assign_partners(apps, schema_editor):
    PaymentMethod = apps.get_model("gateways", "PaymentMethod")
    CardCharge = apps.get_model("gateways", "CardCharge")
    PartnerLink = apps.get_model("accounts", "PartnerLink")
    for method in PaymentMethod.objects.filter(partner__isnull=True).iterator():
        first_charge = CardCharge.objects.filter(payment_method_id=method.pk).order_by("created_at", "pk").first()
        if first_charge is not None:
            partner_id = first_charge.partner_id
        else:
            partners = list(PartnerLink.objects.filter(customer_id=method.customer_id).values_list("partner_id", flat=True)[:2])
            partner_id = partners[0] if len(partners) == 1 else None
        if partner_id is not None:
            PaymentMethod.objects.filter(pk=method.pk).update(partner_id=partner_id)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_audit_log"),
        ("gateways", "0005_backoffice_permissions"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="paymentmethod",
            name="payment_method_unique_per_customer",
        ),
        migrations.AddField(
            model_name="paymentmethod",
            name="partner",
            field=models.ForeignKey(
                blank=True,
                help_text="The partner that stored the card, the only one that may see its token or charge it.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payment_methods",
                to="accounts.partner",
            ),
        ),
        migrations.RunPython(assign_partners, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="paymentmethod",
            constraint=models.UniqueConstraint(
                fields=("customer", "partner", "token", "expires_at"),
                name="payment_method_unique_per_customer_partner",
                nulls_distinct=False,
            ),
        ),
    ]
