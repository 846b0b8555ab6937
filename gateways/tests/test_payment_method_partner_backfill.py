"""Migration gateways.0006's backfill: which partner a card stored before cards were scoped belongs to."""

import importlib
from datetime import date

from django.apps import apps

from accounts.tests.factories import CustomerFactory, PartnerFactory, PartnerLinkFactory, ServiceAccountFactory
from gateways.models import CardCharge, PaymentMethod

backfill = importlib.import_module("gateways.migrations.0006_payment_method_partner")


def _legacy_card(customer, token: str) -> PaymentMethod:
    return PaymentMethod.objects.create(customer=customer, partner=None, token=token, expires_at=date(2031, 1, 31))


def _charge(card: PaymentMethod, account, n: int) -> None:
    CardCharge.objects.create(
        customer=card.customer,
        payment_method=card,
        requested_by=account,
        partner=account.partner,
        amount_requested=500,
        gateway_transaction_id=f"legacy-{card.pk}-{n}",
    )


def test_each_legacy_card_goes_to_its_first_charger_else_the_only_linked_partner_else_nobody(db):
    a, b = PartnerFactory(code="PCS-A"), PartnerFactory(code="PCS-B")
    a_account = ServiceAccountFactory(partner=a, email="hop@a.example")
    b_account = ServiceAccountFactory(partner=b, email="hop@b.example")
    shared, only_a, unlinked = CustomerFactory(), CustomerFactory(), CustomerFactory()
    PartnerLinkFactory(partner=a, customer=shared)
    PartnerLinkFactory(partner=b, customer=shared)
    PartnerLinkFactory(partner=a, customer=only_a)
    charged_by_b_first = _legacy_card(shared, "1111")
    _charge(charged_by_b_first, b_account, 1)
    _charge(charged_by_b_first, a_account, 2)
    _legacy_card(shared, "2222")  # never charged, two partners linked: nobody can tell
    _legacy_card(only_a, "3333")  # never charged, one partner linked
    _legacy_card(unlinked, "4444")  # never charged, no partner linked
    PaymentMethod.objects.create(customer=shared, partner=a, token="5555", expires_at=date(2031, 1, 31))

    backfill.assign_partners(apps, None)

    assert dict(PaymentMethod.objects.values_list("token", "partner__code")) == {
        "1111": "PCS-B",
        "2222": None,
        "3333": "PCS-A",
        "4444": None,
        "5555": "PCS-A",
    }
