"""Card credits (refunds to the card) in the back-office: listed and filtered by status, partner and date, searched
by gateway ids; each with its gateway attempts (card masked); in the customer's timeline. Read-only."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import ServiceAccountFactory
from backoffice.tests.helpers import shown_ids, text
from core.errors import CreditFailed
from gateways import services
from gateways.models import CardCredit, CreditStatus
from gateways.tests.factories import SEED_TOKEN, PaymentMethodFactory
from ledger import services as ledger_services

CHANGELIST = "admin:gateways_cardcredit_changelist"

pytestmark = pytest.mark.usefixtures("gateway_settings")


@pytest.fixture
def credit_of(service_account, hop_customer):
    """credit_of(cents) → a credit through the sandbox; a refused one is returned too (not raised)."""
    ledger_services.card_topup_credit(customer_id=hop_customer.pk, amount_cents=50_000)

    def make(amount: int, *, requested_by=service_account, customer=hop_customer) -> CardCredit:
        try:
            return services.card_credit_create(requested_by=requested_by, customer=customer, amount_cents=amount)
        except CreditFailed:
            return CardCredit.objects.latest("pk")

    return make


def test_credits_are_listed_and_filtered(support_client, credit_of, other_partner, hop_customer):
    posted = credit_of(600)
    declined = credit_of(7000)
    PaymentMethodFactory(customer=hop_customer, partner=other_partner, token="4000000000000002")
    other = credit_of(700, requested_by=ServiceAccountFactory(partner=other_partner))
    CardCredit.objects.filter(pk=declined.pk).update(created_at=timezone.now() - timedelta(days=3))
    url = reverse(CHANGELIST)

    assert shown_ids(support_client.get(url)) == [other.pk, declined.pk, posted.pk]
    assert shown_ids(support_client.get(url, {"status__exact": CreditStatus.DECLINED})) == [declined.pk]
    assert shown_ids(support_client.get(url, {"partner__id__exact": other_partner.pk})) == [other.pk]
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert shown_ids(support_client.get(url, {"created_at__range__gte": since})) == [other.pk, posted.pk]
    assert shown_ids(support_client.get(url, {"q": posted.gateway_transaction_id})) == [posted.pk]
    assert shown_ids(support_client.get(url, {"q": posted.gateway_trans_id})) == [posted.pk]


def test_a_credit_shows_its_gateway_attempts_with_the_card_masked(support_client, credit_of):
    credit = credit_of(600)

    page = support_client.get(reverse("admin:gateways_cardcredit_change", args=[credit.pk]))

    assert page.status_code == 200
    shown = text(page)
    assert "A02 - Credit Posted" in shown
    assert credit.gateway_transaction_id in shown
    assert SEED_TOKEN not in shown
    assert SEED_TOKEN[-4:] in shown
    assert "Delete" not in shown and 'name="_save"' not in shown


def test_credits_are_in_the_customers_timeline(support_client, credit_of, hop_customer):
    posted = credit_of(600)
    declined = credit_of(7000)

    page = support_client.get(reverse("admin:accounts_customer_change", args=[hop_customer.pk]))

    titles = [row["event"].title for row in page.context["timeline"]]
    assert f"Card credit #{posted.pk}: Posted at the gateway, awaiting settlement" in titles
    assert f"Card credit #{declined.pk}: Declined (cents given back to the wallet)" in titles
    assert f"Gateway 004 for credit #{declined.pk}: declined" in titles
    assert titles.count("Cents refunded to the card") == 2
    assert "Card credit posted by the gateway" not in titles  # no wallet move: the credit row tells it
