"""Charges in review and debts are visible to staff; the card shows only its last 4 digits."""

from django.urls import reverse

from gateways.models import CardCharge, ChargeStatus
from gateways.tests.factories import SEED_TOKEN, CardChargeFactory


def test_review_and_debt_are_visible_and_the_token_masked(admin_client, gateway_settings, service_account, hop_customer):
    charge = CardChargeFactory(requested_by=service_account, customer=hop_customer, amount_cents=500)
    CardCharge.objects.filter(pk=charge.pk).update(status=ChargeStatus.REVIEW, debt_cents=500, review_reason="capture refused")

    listing = admin_client.get(reverse("admin:gateways_cardcharge_changelist") + "?status__exact=review")
    detail = admin_client.get(reverse("admin:gateways_cardcharge_change", args=[charge.pk]))

    assert listing.status_code == 200 and detail.status_code == 200
    page = listing.content.decode() + detail.content.decode()
    assert "…0019" in page
    assert SEED_TOKEN not in page
    assert "capture refused" in detail.content.decode()
    assert f">{charge.pk}<" in listing.content.decode()


def test_charges_cannot_be_added_changed_or_deleted_in_admin(admin_client, gateway_settings, service_account, hop_customer):
    charge = CardChargeFactory(requested_by=service_account, customer=hop_customer, amount_cents=500)

    assert admin_client.get(reverse("admin:gateways_cardcharge_add")).status_code == 403
    assert admin_client.post(reverse("admin:gateways_cardcharge_delete", args=[charge.pk]), {"post": "yes"}).status_code == 403
    assert CardCharge.objects.filter(pk=charge.pk).exists()
