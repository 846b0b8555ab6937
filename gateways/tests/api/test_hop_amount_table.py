"""DESIGN §5's sandbox amount table, boundary by boundary, through the whole HOP API.

Each amount goes request → JWT → customer → gateway sale-auth (the real sandbox) → charge row → ledger → response.
"""

import pytest
from django.db.models import Sum

from gateways.models import CardCharge, ChargeStatus, GatewayAttempt
from ledger import services as ledger_services
from ledger.models import Entry, Transaction, TransactionKind
from ledger.tests.helpers import cents

from .support import (
    CHARGE_KEYS,
    SEED_METADATA_KEYS,
    authorizations,
    booked_authorizations,
    charge_failure,
    charges_url,
)

PREVIOUS_BALANCE = 1234

# (outcome, response code, description, GatewayMessage)
A01 = ("approved", "00000", "Successful Request", "A01 - Approved")
A05 = ("partially_approved", "00001", "Partial Authorization", "A05 - Partially Approved")
D01 = ("declined", "30032", "Denied by customer's bank", "D01 - Denied by customer's bank (Issuer Unavailable)")
D05 = ("declined", "30023", "Invalid Account Number", "D05 - Invalid card number (Invalid Account Number)")
D10 = ("declined", "30037", "Card reported lost", "D10 - Card reported lost/stolen (Lost/Stolen Card)")
D30 = ("declined", "30072", "Call for Authorization", "D30 - Call for Authorization (Referral)")
D04 = ("declined", "30034", "Hold - Pick up card", "D04 - Hold - Pick up card (Pick Up Card)")
D08 = ("declined", "30025", "Invalid Security Code", "D08 - CSC is invalid (Decline CSC/CID Fail)")
D03 = ("declined", "30033", "Insufficient funds", "D03 - Insufficient funds")
E02 = (
    "transient",
    "30022",
    "Processing Network Unavailable",
    "E02 - Processing Network Unavailable (System is temporarily unavailable)",
)
E09 = ("transient", "10052", "Processing Network Error", "E09 - Processing Network Error")

AMOUNT_TABLE = [
    (1, D01),
    (499, D01),
    (500, A01),
    (6999, A01),
    (7000, D05),
    (7999, D05),
    (8000, D10),
    (8999, D10),
    (9000, D30),
    (9999, D30),
    (10000, D04),
    (10999, D04),
    (11000, D08),
    (11999, D08),
    (12000, D03),
    (12999, D03),
    (13000, E02),
    (13999, E02),
    (14000, E09),
    (14999, E09),
    (15000, A05),
    (15999, A05),
    (17000, A01),
    (18199, A01),
    (18200, D01),
    (100_000, D01),
    (99_999_999, D01),  # the gateway's largest amount (8 digits), past the default CHARGE_MAX_CENTS
]


def _given_a_customer_with_a_balance(customer, settings, amount):
    settings.CHARGE_MAX_CENTS = max(settings.CHARGE_MAX_CENTS, amount)
    ledger_services.card_topup_credit(customer_id=customer.pk, amount_cents=PREVIOUS_BALANCE)


@pytest.mark.parametrize(("amount", "expected"), AMOUNT_TABLE, ids=[str(amount) for amount, _ in AMOUNT_TABLE])
def test_amount_table_through_the_api(hop_api, hop_customer, sandbox, settings, amount, expected):
    outcome, code, description, gateway_message = expected
    _given_a_customer_with_a_balance(hop_customer, settings, amount)
    transactions_before = Transaction.objects.count()

    response = hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": str(amount)}}, format="json")

    charge = CardCharge.objects.get()
    assert charge.amount_requested == amount
    assert (charge.response_code, charge.response_description) == (code, description)
    assert charge.metadata["GatewayMessage"] == gateway_message
    assert charge.metadata["OriginalAmount"] == str(amount)
    assert charge.gateway_trans_id == charge.metadata["GatewayTransID"] != ""
    attempts = list(GatewayAttempt.objects.values_list("charge_id", "request_type", "transaction_id", "outcome", "response_code"))
    assert attempts == [(charge.pk, "004", charge.gateway_transaction_id, outcome, code)]
    sent = authorizations(sandbox)
    assert [(r["transaction_id"], r["amount"], r["transaction_type"], r["token_last4"]) for r in sent] == [
        (charge.gateway_transaction_id, amount, "sale-auth", "0019")
    ]

    if outcome in ("approved", "partially_approved"):
        authorized = amount - 1000 if outcome == "partially_approved" else amount
        assert response.status_code == 201, response.content
        body = response.json()["data"]["charge"]
        assert list(body) == CHARGE_KEYS
        assert (body["id"], body["status"]) == (charge.pk, "authorized")
        assert body["amount_in_cents"] == authorized
        assert body["balance_in_cents"] == PREVIOUS_BALANCE + authorized
        assert list(body["metadata"]) == SEED_METADATA_KEYS
        assert body["metadata"]["AuthorizedAmount"] == str(authorized)
        assert body["metadata"]["OriginalAmount"] == str(amount)
        assert cents(hop_customer) == PREVIOUS_BALANCE + authorized
        assert (charge.status, charge.amount_authorized) == (ChargeStatus.AUTHORIZED, authorized)
        assert charge.authorized_at is not None
        credit = charge.ledger_transaction
        assert credit is not None and credit.kind == TransactionKind.CARD_TOPUP
        assert Entry.objects.filter(transaction=credit).aggregate(total=Sum("amount"))["total"] == 0
        assert Entry.objects.get(transaction=credit, account__customer=hop_customer).amount == authorized
        assert Transaction.objects.count() == transactions_before + 1
        assert [
            (op["amount"], op["approved_amount"], op["status"])
            for op in booked_authorizations(sandbox, charge.gateway_transaction_id)
        ] == [(amount, authorized, "authorized")]
    else:
        assert response.status_code == 406, response.content
        assert response.json() == charge_failure(description)
        assert cents(hop_customer) == PREVIOUS_BALANCE
        expected_status = ChargeStatus.FAILED if outcome == "transient" else ChargeStatus.DECLINED
        assert (charge.status, charge.amount_authorized, charge.ledger_transaction) == (expected_status, None, None)
        assert charge.authorized_at is None
        assert charge.metadata["AuthorizedAmount"] == "0"
        assert Transaction.objects.count() == transactions_before


def test_partial_approval_credits_only_the_authorized_amount(hop_api, hop_customer):
    response = hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 15500}}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()["data"]["charge"]
    assert (body["amount_in_cents"], body["balance_in_cents"], body["status"]) == (14500, 14500, "authorized")
    assert (body["metadata"]["AuthorizedAmount"], body["metadata"]["OriginalAmount"]) == ("14500", "15500")
    assert body["metadata"]["GatewayMessage"] == "A05 - Partially Approved"
    charge = CardCharge.objects.get()
    assert (charge.amount_requested, charge.amount_authorized) == (15500, 14500)
    assert cents(hop_customer) == 14500


def test_every_declined_amount_leaves_the_wallet_alone_and_approved_ones_add_up(hop_api, hop_customer, settings):
    settings.CHARGE_MAX_CENTS = 99_999_999
    statuses = []

    for amount, _ in AMOUNT_TABLE:
        response = hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": amount}}, format="json")
        statuses.append(response.status_code)

    approved = [amount for amount, expected in AMOUNT_TABLE if expected == A01] + [14000, 14999]
    assert cents(hop_customer) == sum(approved)
    assert statuses.count(201) == 6
    assert statuses.count(406) == len(AMOUNT_TABLE) - 6
    assert CardCharge.objects.filter(status=ChargeStatus.AUTHORIZED).count() == 6
    assert CardCharge.objects.filter(status=ChargeStatus.FAILED).count() == 4
    assert CardCharge.objects.filter(status=ChargeStatus.DECLINED).count() == len(AMOUNT_TABLE) - 10
    assert Transaction.objects.filter(kind=TransactionKind.CARD_TOPUP).count() == 6
