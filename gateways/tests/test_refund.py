"""Staff void/refund of a card charge, against the real sandbox: the wallet gives the cents back at once,
the gateway is told with one TransactionID, and the ledger puts the cents back where the charge's money sat."""

import pytest

from core.errors import InsufficientBalance, InvalidParameter, TransactionNotReversible
from gateways import services
from gateways.bridgecomm import client
from gateways.models import ChargeStatus
from gateways.tests.factories import CardChargeFactory
from gateways.tests.helpers import requests_of
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.models import Account, SystemAccount, Transaction, TransactionKind
from ledger.tests.helpers import wallet_of


def _system_balance(code):
    return ledger_selectors.account_balance(account=Account.objects.get(code=code))


@pytest.mark.parametrize(
    ("stage", "expected", "funds_account"),
    [
        ("authorized", ChargeStatus.VOIDED, SystemAccount.USD_CARD_AUTHORIZED),
        ("captured", ChargeStatus.VOIDED, SystemAccount.USD_CARD_RECEIVABLE),
        ("settled", ChargeStatus.REFUNDED, SystemAccount.USD_CARD_SETTLED),
    ],
)
def test_void_or_refund_at_each_stage(
    gateway_settings, sandbox, service_account, hop_customer, admin_user, stage, expected, funds_account
):
    charge = CardChargeFactory(requested_by=service_account, customer=hop_customer)
    if stage in ("captured", "settled"):
        services.card_charge_capture(charge_id=charge.pk)
    if stage == "settled":
        services.settlement_close()
    funds_before = _system_balance(funds_account)

    requested = services.card_charge_refund_request(charge_id=charge.pk, requested_by=admin_user, reason="customer complaint")

    assert requested.status == ChargeStatus.REFUNDING
    assert wallet_of(hop_customer, "USD").balance == 0  # taken back at once
    assert _system_balance(funds_account) == funds_before + 500
    refund_txn = Transaction.objects.get(kind=TransactionKind.CARD_REFUND)
    assert (refund_txn.created_by, refund_txn.reason) == (admin_user, "customer complaint")

    done = services.card_charge_refund(charge_id=charge.pk)

    assert done.status == expected
    assert done.refunded_at is not None
    sent = requests_of(sandbox, "012")
    assert len(sent) == 1
    assert sent[0]["transaction_id"] == done.refund_transaction_id
    assert services.card_charge_refund(charge_id=charge.pk) is None  # nothing left to do
    assert len(requests_of(sandbox, "012")) == 1


def test_refund_refused_when_the_wallet_spent_the_cents(gateway_settings, service_account, hop_customer, admin_user):
    charge = CardChargeFactory(requested_by=service_account, customer=hop_customer)
    other = CardChargeFactory(requested_by=service_account, customer=hop_customer, amount_cents=700)
    services.card_charge_refund_request(charge_id=other.pk, requested_by=admin_user, reason="first")  # wallet 1200 → 500
    ledger_services.card_refund_debit(
        customer_id=hop_customer.pk,
        amount_cents=100,
        counterpart=SystemAccount.USD_CARD_AUTHORIZED,
        created_by=admin_user,
        reason="x",
    )  # the customer spent 100 of it: 400 left, 500 would be needed

    with pytest.raises(InsufficientBalance):
        services.card_charge_refund_request(charge_id=charge.pk, requested_by=admin_user, reason="second")

    charge.refresh_from_db()
    assert charge.status == ChargeStatus.AUTHORIZED
    assert wallet_of(hop_customer, "USD").balance == 400


def test_refund_needs_a_reason_and_a_refundable_charge(gateway_settings, service_account, hop_customer, admin_user):
    charge = CardChargeFactory(requested_by=service_account, customer=hop_customer)

    with pytest.raises(InvalidParameter):
        services.card_charge_refund_request(charge_id=charge.pk, requested_by=admin_user, reason=" ")
    services.card_charge_refund_request(charge_id=charge.pk, requested_by=admin_user, reason="ok")
    with pytest.raises(TransactionNotReversible):
        services.card_charge_refund_request(charge_id=charge.pk, requested_by=admin_user, reason="again")

    assert Transaction.objects.filter(kind=TransactionKind.CARD_REFUND).count() == 1


def test_gateway_refusal_sends_the_charge_to_review(gateway_settings, sandbox, service_account, hop_customer, admin_user):
    charge = CardChargeFactory(requested_by=service_account, customer=hop_customer)
    services.card_charge_refund_request(charge_id=charge.pk, requested_by=admin_user, reason="complaint")
    # The authorization is voided behind our back, so our void is refused (30029).
    assert client.void_or_refund(
        transaction_id="outside-void", gateway_trans_id=charge.gateway_trans_id, amount_cents=500, refund=False
    )

    done = services.card_charge_refund(charge_id=charge.pk)

    assert done.status == ChargeStatus.REVIEW
    assert "void refused: 30029" in done.review_reason
    assert wallet_of(hop_customer, "USD").balance == 0


def test_no_answer_keeps_the_refund_due_with_the_same_transaction_id(
    gateway_settings, sandbox, service_account, hop_customer, admin_user
):
    charge = CardChargeFactory(requested_by=service_account, customer=hop_customer)
    services.card_charge_refund_request(charge_id=charge.pk, requested_by=admin_user, reason="complaint")
    sandbox.control.add_fault(kind="drop", request_type="012", record=True)

    with pytest.raises(services.GatewayNotDone):
        services.card_charge_refund(charge_id=charge.pk)
    done = services.card_charge_refund(charge_id=charge.pk)

    assert done.status == ChargeStatus.VOIDED
    sent = requests_of(sandbox, "012")
    assert len(sent) == 2
    assert {r["transaction_id"] for r in sent} == {done.refund_transaction_id}
