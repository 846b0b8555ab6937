"""HOP credits (refunds from the cents wallet to the card on record; HOP's docs/api/credit.md, DESIGN §4.1), against
the real sandbox over HTTP: the documented sample and errors exactly, the wallet debited first and given back on a
refusal, an unknown outcome left pending with the wallet debited, Idempotency-Key, and partner isolation."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
from django.db.models import Sum

from accounts.tests.factories import PartnerLinkFactory
from gateways import services
from gateways.models import CardCredit, CreditStatus, GatewayAttempt
from gateways.tests.factories import PaymentMethodFactory
from ledger import services as ledger_services
from ledger.models import Account, Entry, SystemAccount, Transaction, TransactionKind, TransactionStatus
from ledger.tests.helpers import cents

from .support import CHARGE_AT_FORMAT, SEED_METADATA_KEYS, USER_NOT_FOUND, authorizations, hop_error

CREDIT_KEYS = ["id", "credit_at", "amount_in_cents", "balance_in_cents", "metadata"]
# HOP's credit.md sample request, verbatim.
DOC_REQUEST = {"credit": {"amount_in_cents": "500"}}


def credits_url(customer_id) -> str:
    return f"/api/v1/users/{customer_id}/credits"


def credit_failure(field: str, message: str) -> dict:
    return hop_error(10007, "Credit transaction failure", {field: [message]})


def fund(customer, amount: int) -> None:
    ledger_services.card_topup_credit(customer_id=customer.pk, amount_cents=amount)


def system_balance(code: SystemAccount) -> int:
    return Entry.objects.filter(account__code=code).aggregate(total=Sum("amount"))["total"] or 0


def credit_kinds(customer) -> list[tuple[str, str]]:
    """The customer's credit-related ledger transactions, oldest first: (kind, status)."""
    return list(
        Transaction.objects.filter(customer=customer)
        .exclude(kind=TransactionKind.CARD_TOPUP)
        .order_by("pk")
        .values_list("kind", "status")
    )


def test_hop_sample_request_gives_the_documented_answer(hop_api, hop_customer, sandbox):
    fund(hop_customer, 4200)  # credit.md's sample: 4200 - 500 = 3700
    before = datetime.now(UTC).replace(microsecond=0)

    response = hop_api.post(credits_url(hop_customer.pk), DOC_REQUEST, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == ["data"] and list(body["data"]) == ["credit"]
    credit = body["data"]["credit"]
    assert list(credit) == CREDIT_KEYS
    stored = CardCredit.objects.get()
    assert (credit["id"], credit["amount_in_cents"], credit["balance_in_cents"]) == (stored.pk, 500, 3700)
    credit_at = datetime.strptime(credit["credit_at"], CHARGE_AT_FORMAT).replace(tzinfo=UTC)
    assert before <= credit_at <= datetime.now(UTC)
    metadata = credit["metadata"]
    assert list(metadata) == SEED_METADATA_KEYS  # credit.md lists the same keys, in the same order
    assert all(value is None or isinstance(value, str) for value in metadata.values())
    assert metadata["Token"] == "1000000074340019"  # credit.md's token, the card this partner stored
    assert metadata["ExpirationDate"] == "1230"
    assert (metadata["AuthorizedAmount"], metadata["OriginalAmount"], metadata["RemainingAmount"]) == ("500", "500", "0")
    assert metadata["GatewayMessage"] == "A02 - Credit Posted"
    assert metadata["InternalMessage"] == "Credit Posted"
    assert metadata["GatewayResult"] == "00000"
    assert metadata["ResponseTypeDescription"] == "credit"
    assert metadata["GatewayTransID"] == stored.gateway_trans_id != ""
    assert metadata["TransactionCode"] == stored.gateway_transaction_id
    # The books: the wallet debited once, the cents owed to the card until the batch.
    assert stored.status == CreditStatus.POSTED
    assert cents(hop_customer) == 3700
    assert credit_kinds(hop_customer) == [
        (TransactionKind.CARD_CREDIT, TransactionStatus.CONFIRMED),
        (TransactionKind.CARD_CREDIT_POSTED, TransactionStatus.CONFIRMED),
    ]
    debit = stored.debit_ledger_transaction
    assert (debit.partner_id, debit.customer_id) == (hop_customer.links.get().partner_id, hop_customer.pk)
    assert debit.get_kind_display() == "Cents refunded to the card"
    assert system_balance(SystemAccount.USD_CARD_CREDIT_PENDING) == 0
    assert system_balance(SystemAccount.USD_CARD_CREDIT_PAYABLE) == 500
    [sent] = authorizations(sandbox)
    assert sent["transaction_id"] == stored.gateway_transaction_id


def test_denied_is_the_documented_error_and_gives_the_cents_back(hop_api, hop_customer, sandbox):
    fund(hop_customer, 1000)

    response = hop_api.post(credits_url(hop_customer.pk), {"credit": {"amount_in_cents": 300}}, format="json")

    assert response.status_code == 406, response.content
    assert response.json() == credit_failure("credit", "Denied by customer's bank")
    assert cents(hop_customer) == 1000
    credit = CardCredit.objects.get()
    assert credit.status == CreditStatus.DECLINED
    # debited first, then given back by the debit's reversal: never a refund without the debit
    assert credit_kinds(hop_customer) == [
        (TransactionKind.CARD_CREDIT, TransactionStatus.CANCELLED),
        (TransactionKind.REVERSAL, TransactionStatus.CONFIRMED),
    ]
    assert credit.giveback_ledger_transaction.reverses_id == credit.debit_ledger_transaction_id
    assert system_balance(SystemAccount.USD_CARD_CREDIT_PENDING) == 0
    assert system_balance(SystemAccount.USD_CARD_CREDIT_PAYABLE) == 0


@pytest.mark.parametrize(
    ("amount", "status", "description"),
    [
        (7000, CreditStatus.DECLINED, "Invalid Account Number"),
        (12000, CreditStatus.DECLINED, "Insufficient funds"),
        (13000, CreditStatus.FAILED, "Processing Network Unavailable"),  # E02: nothing done at the gateway
    ],
)
def test_every_refusal_is_10007_with_the_gateways_description(hop_api, hop_customer, sandbox, amount, status, description):
    fund(hop_customer, 20000)

    response = hop_api.post(credits_url(hop_customer.pk), {"credit": {"amount_in_cents": amount}}, format="json")

    assert (response.status_code, response.json()) == (406, credit_failure("credit", description))
    assert CardCredit.objects.get().status == status
    assert cents(hop_customer) == 20000


def test_more_than_the_balance_is_refused_and_nothing_is_sent(hop_api, hop_customer, sandbox):
    fund(hop_customer, 499)

    response = hop_api.post(credits_url(hop_customer.pk), {"credit": {"amount_in_cents": 500}}, format="json")

    assert (response.status_code, response.json()) == (406, credit_failure("balance", "is not sufficient"))
    assert cents(hop_customer) == 499
    assert CardCredit.objects.count() == 0
    assert credit_kinds(hop_customer) == []
    assert authorizations(sandbox) == []


def test_no_card_on_record_is_the_documented_payment_error(hop_api, hop_customer, sandbox):
    fund(hop_customer, 1000)
    hop_customer.payment_methods.all().delete()

    response = hop_api.post(credits_url(hop_customer.pk), DOC_REQUEST, format="json")

    assert (response.status_code, response.json()) == (406, credit_failure("payment", "details are missing"))
    assert cents(hop_customer) == 1000
    assert authorizations(sandbox) == []


def test_unknown_customer_is_the_documented_user_error(hop_api, sandbox):
    response = hop_api.post(credits_url(987654), DOC_REQUEST, format="json")

    assert (response.status_code, response.json()) == (406, USER_NOT_FOUND)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"credit": ["is missing or not an object"]}),
        ({"credit": {"amount_in_cents": ""}}, {"amount_in_cents": ["is missing or empty"]}),
        ({"credit": {"amount_in_cents": -500}}, {"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]}),
        ({"credit": {"amount_in_cents": "5.00"}}, {"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]}),
    ],
)
def test_bad_input_is_10013_and_changes_nothing(hop_api, hop_customer, sandbox, body, errors):
    fund(hop_customer, 1000)

    response = hop_api.post(credits_url(hop_customer.pk), body, format="json")

    assert (response.status_code, response.json()) == (422, hop_error(10013, "Param is missing or the value is empty", errors))
    assert cents(hop_customer) == 1000
    assert CardCredit.objects.count() == 0


def test_lost_answer_is_202_pending_with_the_wallet_debited_and_resolved_once(hop_api, hop_customer, sandbox, settings):
    """The sandbox posts the credit, then the answer is lost: 202, the cents stay debited (pending at the gateway).
    Re-sending the same TransactionID learns the posting; the card is refunded once, the wallet debited once."""
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    fund(hop_customer, 1000)
    sandbox.control.add_fault("drop", request_type="004", record=True)

    response = hop_api.post(credits_url(hop_customer.pk), DOC_REQUEST, format="json")

    assert response.status_code == 202, response.content
    body = response.json()["data"]["credit"]
    assert list(body) == CREDIT_KEYS
    assert (body["amount_in_cents"], body["balance_in_cents"], body["metadata"]) == (500, 500, None)
    credit = CardCredit.objects.get()
    assert credit.status == CreditStatus.PENDING
    assert system_balance(SystemAccount.USD_CARD_CREDIT_PENDING) == 500

    resolved = services.card_credit_resolve(credit_id=credit.pk)
    again = services.card_credit_record_answer(credit_id=credit.pk, result=services._credit_send(credit), resent=True)

    assert resolved.status == again.status == CreditStatus.POSTED
    assert cents(hop_customer) == 500
    assert credit_kinds(hop_customer) == [
        (TransactionKind.CARD_CREDIT, TransactionStatus.CONFIRMED),
        (TransactionKind.CARD_CREDIT_POSTED, TransactionStatus.CONFIRMED),
    ]
    booked = sandbox.control.transactions(transaction_id=credit.gateway_transaction_id)
    assert [(op["transaction_type"], op["amount"]) for op in booked] == [("credit", 500)]
    assert list(GatewayAttempt.objects.filter(credit=credit).order_by("pk").values_list("outcome", flat=True)) == [
        "unknown",
        "approved",
        "approved",
    ]
    assert services.card_credit_resolve(credit_id=credit.pk) is None  # nothing left to do


def test_same_idempotency_key_replays_and_refunds_once(hop_api, hop_customer, sandbox):
    fund(hop_customer, 1000)
    headers = {"HTTP_IDEMPOTENCY_KEY": "credit-key-1"}

    first = hop_api.post(credits_url(hop_customer.pk), DOC_REQUEST, format="json", **headers)
    second = hop_api.post(credits_url(hop_customer.pk), DOC_REQUEST, format="json", **headers)
    other = hop_api.post(credits_url(hop_customer.pk), {"credit": {"amount_in_cents": 600}}, format="json", **headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and other.json()["data"]["code"] == 10016
    assert CardCredit.objects.count() == 1
    assert cents(hop_customer) == 500
    assert len(authorizations(sandbox)) == 1


def test_another_partners_customer_answers_like_an_unknown_one(hop_api, other_customer, sandbox):
    fund(other_customer, 1000)

    response = hop_api.post(credits_url(other_customer.pk), DOC_REQUEST, format="json")

    assert (response.status_code, response.json()) == (406, USER_NOT_FOUND)
    assert cents(other_customer) == 1000
    assert CardCredit.objects.count() == 0


def test_a_card_another_partner_stored_is_never_refunded(hop_api, other_hop_api, other_partner, hop_customer, sandbox):
    """A customer linked to both partners has one wallet; PCS-002 stored no card, so for it there is none on
    record: PCS-001's card is never used for PCS-002's credit."""
    PartnerLinkFactory(partner=other_partner, customer=hop_customer, external_user_id="sharedUser")
    fund(hop_customer, 1000)

    response = other_hop_api.post(credits_url(hop_customer.pk), DOC_REQUEST, format="json")

    assert (response.status_code, response.json()) == (406, credit_failure("payment", "details are missing"))
    assert cents(hop_customer) == 1000
    assert authorizations(sandbox) == []

    # with its own card, PCS-002 refunds to that card, and its credit is its own
    PaymentMethodFactory(customer=hop_customer, partner=other_partner, token="4000000000000002")
    response = other_hop_api.post(credits_url(hop_customer.pk), DOC_REQUEST, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["data"]["credit"]["metadata"]["Token"] == "4000000000000002"
    credit = CardCredit.objects.get()
    assert (credit.partner_id, credit.debit_ledger_transaction.partner_id) == (other_partner.pk, other_partner.pk)


def test_wallet_never_goes_below_zero_through_a_credit(hop_api, hop_customer, sandbox):
    fund(hop_customer, 500)

    assert hop_api.post(credits_url(hop_customer.pk), DOC_REQUEST, format="json").status_code == 201
    response = hop_api.post(credits_url(hop_customer.pk), {"credit": {"amount_in_cents": 1}}, format="json")

    assert (response.status_code, response.json()) == (406, credit_failure("balance", "is not sufficient"))
    assert Account.objects.get(customer=hop_customer, unit="USD").balance == 0


def test_a_30036_to_the_re_sent_credit_parks_it_for_staff_with_the_wallet_still_debited(hop_api, hop_customer, sandbox, settings):
    """The gateway holds the first send under that TransactionID and says only "duplicate": it may have posted the
    refund. Neither given back (it may be posted) nor re-sent for ever: parked for staff, the sweeper skips it."""
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    settings.CHARGE_SWEEP_AFTER_SECONDS = 0
    fund(hop_customer, 1000)
    sandbox.control.add_fault("drop", request_type="004")
    assert hop_api.post(credits_url(hop_customer.pk), DOC_REQUEST, format="json").status_code == 202
    sandbox.control.add_fault("duplicate", request_type="004")

    parked = services.card_credit_resolve(credit_id=CardCredit.objects.get().pk)

    assert parked.status == CreditStatus.PENDING
    assert parked.review_reason.startswith("credit outcome unknown: the re-sent request was answered 30036")
    assert cents(hop_customer) == 500
    assert credit_kinds(hop_customer) == [(TransactionKind.CARD_CREDIT, TransactionStatus.CONFIRMED)]
    assert services.charges_sweep()["resolve_credit"] == 0
    assert services.card_credit_resolve(credit_id=parked.pk).review_reason == parked.review_reason


def test_the_cents_history_shows_the_partners_credits_and_their_give_back(
    hop_api, other_hop_api, other_partner, hop_customer, sandbox
):
    PartnerLinkFactory(partner=other_partner, customer=hop_customer, external_user_id="sharedUser")
    fund(hop_customer, 1000)
    posted = hop_api.post(credits_url(hop_customer.pk), {"credit": {"amount_in_cents": 600}}, format="json")
    refused = hop_api.post(credits_url(hop_customer.pk), {"credit": {"amount_in_cents": 300}}, format="json")
    assert (posted.status_code, refused.status_code) == (201, 406)

    mine = hop_api.get(f"/api/v1/users/{hop_customer.pk}/transactions").json()["data"]["transactions"]
    theirs = other_hop_api.get(f"/api/v1/users/{hop_customer.pk}/transactions").json()["data"]["transactions"]

    # HOP's shape, newest first, each row with the wallet's balance right after it: the refused credit's debit and
    # its give-back are both there, so the running balance adds up.
    assert [(row["type"], row["amount_in_cents"], row["balance_in_cents"]) for row in mine] == [
        ("refund", 300, 400),
        ("credit", -300, 100),
        ("credit", -600, 400),
    ]
    assert theirs == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_credits_never_refund_more_than_the_balance(http_server, hop_jwt, hop_customer, sandbox, settings):
    """Eight real concurrent requests of 6.00 on a 30.00 wallet: exactly five are refunded, the rest refused before
    the gateway; the wallet ends at zero, never below."""
    settings.GATEWAY_CALLS_PER_PROCESS = 8  # one test server stands for eight web processes here
    fund(hop_customer, 3000)
    barrier = threading.Barrier(8)

    def fire(index):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(
                http_server + credits_url(hop_customer.pk),
                json={"credit": {"amount_in_cents": 600}},
                headers={"Authorization": f"Bearer {hop_jwt}", "Idempotency-Key": f"credit-{index}"},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(fire, range(8)))

    assert sorted(r.status_code for r in responses) == [201] * 5 + [406] * 3
    assert all(r.json() == credit_failure("balance", "is not sufficient") for r in responses if r.status_code == 406)
    assert cents(hop_customer) == 0
    assert CardCredit.objects.filter(status=CreditStatus.POSTED).count() == 5
    assert len(authorizations(sandbox)) == 5
    assert system_balance(SystemAccount.USD_CARD_CREDIT_PAYABLE) == 3000
