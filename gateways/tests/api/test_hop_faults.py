"""Gateway faults during the authorization (DESIGN §4, §5).

An unknown outcome (timeout, dropped connection, HTTP 5xx, unparsable answer) answers 202 "pending" and credits nothing;
re-sending the identical authorization (same TransactionID) resolves it and credits exactly once, however often the
answer is recorded. A definite "nothing was done" (20003) is a 406 charge failure.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from gateways import services
from gateways.bridgecomm.types import Outcome
from gateways.models import CardCharge, ChargeStatus, GatewayAttempt
from ledger import services as ledger_services
from ledger.models import Entry, Transaction, TransactionKind
from ledger.tests.helpers import cents

from .support import (
    CHARGE_KEYS,
    authorizations,
    booked_authorizations,
    charge_failure,
    charge_url,
    charges_url,
    resend_authorization,
)

PREVIOUS_BALANCE = 300
AMOUNT = 2500

UNKNOWN_OUTCOMES = [
    pytest.param("slow", {"seconds": 2}, True, id="slow-gateway-charged"),
    pytest.param("slow", {"seconds": 2, "record": False}, False, id="slow-gateway-did-nothing"),
    pytest.param("drop", {}, False, id="drop-gateway-did-nothing"),
    pytest.param("drop", {"record": True}, True, id="drop-gateway-charged"),
    pytest.param("http500", {}, False, id="http500-gateway-did-nothing"),
    pytest.param("http500", {"record": True}, True, id="http500-gateway-charged"),
    pytest.param("garbage", {}, False, id="garbage-gateway-did-nothing"),
    pytest.param("garbage", {"record": True}, True, id="garbage-gateway-charged"),
]


@pytest.fixture
def short_timeout(settings):
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    return settings


@pytest.fixture
def funded(hop_customer):
    ledger_services.card_topup_credit(customer_id=hop_customer.pk, amount_cents=PREVIOUS_BALANCE)
    return hop_customer


def topups_of(charge: CardCharge) -> int:
    return Transaction.objects.filter(card_charge=charge).count()


@pytest.mark.parametrize(("kind", "options", "gateway_charged"), UNKNOWN_OUTCOMES)
def test_unknown_outcome_is_202_pending_and_credits_nothing(
    hop_api, funded, sandbox, short_timeout, kind, options, gateway_charged
):
    sandbox.control.add_fault(kind, request_type="004", **options)
    transactions_before = Transaction.objects.count()

    response = hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": AMOUNT}}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()["data"]["charge"]
    charge = CardCharge.objects.get()
    assert list(body) == CHARGE_KEYS
    assert (body["id"], body["status"], body["amount_in_cents"]) == (charge.pk, "pending", AMOUNT)
    assert body["balance_in_cents"] == PREVIOUS_BALANCE
    assert body["metadata"] is None
    assert cents(funded) == PREVIOUS_BALANCE
    assert Transaction.objects.count() == transactions_before
    assert (charge.status, charge.amount_authorized, charge.ledger_transaction, charge.authorized_at) == (
        ChargeStatus.PENDING,
        None,
        None,
        None,
    )
    assert (charge.response_code, charge.gateway_trans_id, charge.metadata) == ("", "", {})
    attempts = list(charge.attempts.values_list("request_type", "transaction_id", "outcome", "response_code"))
    assert attempts == [("004", charge.gateway_transaction_id, "unknown", "")]
    assert charge.attempts.get().error != ""
    assert [(r["transaction_id"], r["fault"]) for r in authorizations(sandbox)] == [(charge.gateway_transaction_id, kind)]
    assert len(booked_authorizations(sandbox, charge.gateway_transaction_id)) == (1 if gateway_charged else 0)


@pytest.mark.parametrize(("kind", "options", "gateway_charged"), UNKNOWN_OUTCOMES)
def test_pending_charge_resolved_by_resending_credits_exactly_once(
    hop_api, funded, sandbox, short_timeout, kind, options, gateway_charged
):
    sandbox.control.add_fault(kind, request_type="004", **options)
    assert hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": AMOUNT}}, format="json").status_code == 202
    charge = CardCharge.objects.get()

    resent = resend_authorization(charge)
    resolved = services.card_charge_record_authorization(charge_id=charge.pk, result=resent)

    assert resent.outcome == Outcome.APPROVED
    assert (resolved.status, resolved.amount_authorized) == (ChargeStatus.AUTHORIZED, AMOUNT)
    assert resolved.gateway_trans_id == resent.gateway_trans_id != ""
    assert cents(funded) == PREVIOUS_BALANCE + AMOUNT
    assert topups_of(charge) == 1
    assert Entry.objects.get(transaction=resolved.ledger_transaction, account__customer=funded).amount == AMOUNT
    booked = booked_authorizations(sandbox, charge.gateway_transaction_id)
    assert [(op["gateway_trans_id"], op["amount"], op["approved_amount"]) for op in booked] == [
        (resent.gateway_trans_id, AMOUNT, AMOUNT)
    ]
    log = authorizations(sandbox)
    assert [(r["transaction_id"], r["processed"], r["replayed"]) for r in log] == [
        (charge.gateway_transaction_id, gateway_charged, False),
        (charge.gateway_transaction_id, True, gateway_charged),
    ]

    # when: the same answer arrives again (a second resend, a worker racing the first)
    again = resend_authorization(charge)
    after = services.card_charge_record_authorization(charge_id=charge.pk, result=again)
    services.card_charge_record_authorization(charge_id=charge.pk, result=resent)

    # then: nothing moves a second time
    assert again.outcome == Outcome.APPROVED
    assert again.gateway_trans_id == resent.gateway_trans_id
    assert (after.status, after.amount_authorized, after.ledger_transaction_id) == (
        ChargeStatus.AUTHORIZED,
        AMOUNT,
        resolved.ledger_transaction_id,
    )
    assert cents(funded) == PREVIOUS_BALANCE + AMOUNT
    assert topups_of(charge) == 1
    assert Transaction.objects.filter(kind=TransactionKind.CARD_TOPUP, customer=funded).count() == 2  # the setup + this one
    assert len(booked_authorizations(sandbox, charge.gateway_transaction_id)) == 1
    assert [a.outcome for a in GatewayAttempt.objects.filter(charge=charge).order_by("pk")] == [
        "unknown",
        "approved",
        "approved",
        "approved",
    ]


def test_resolved_pending_charge_reads_as_authorized(hop_api, funded, sandbox, short_timeout):
    sandbox.control.add_fault("slow", seconds=2, request_type="004")
    pending = hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": AMOUNT}}, format="json").json()
    charge = CardCharge.objects.get()
    while_pending = hop_api.get(charge_url(funded.pk, charge.pk))
    services.card_charge_record_authorization(charge_id=charge.pk, result=resend_authorization(charge))

    response = hop_api.get(charge_url(funded.pk, charge.pk))

    assert pending["data"]["charge"]["status"] == "pending"
    assert while_pending.status_code == 200
    assert while_pending.json() == pending
    assert response.status_code == 200
    body = response.json()["data"]["charge"]
    assert (body["status"], body["amount_in_cents"], body["balance_in_cents"]) == (
        "authorized",
        AMOUNT,
        PREVIOUS_BALANCE + AMOUNT,
    )
    assert body["metadata"]["AuthorizedAmount"] == str(AMOUNT)


def test_a_pending_resend_that_is_still_unknown_changes_nothing(hop_api, funded, sandbox, short_timeout):
    sandbox.control.add_fault("drop", request_type="004", count=2)
    assert hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": AMOUNT}}, format="json").status_code == 202
    charge = CardCharge.objects.get()

    still_unknown = resend_authorization(charge)
    after = services.card_charge_record_authorization(charge_id=charge.pk, result=still_unknown)

    assert still_unknown.outcome == Outcome.UNKNOWN
    assert (after.status, after.ledger_transaction) == (ChargeStatus.PENDING, None)
    assert cents(funded) == PREVIOUS_BALANCE
    assert charge.attempts.count() == 2


def test_pending_charge_that_the_gateway_declines_on_resend_credits_nothing(hop_api, funded, sandbox, short_timeout):
    sandbox.control.add_fault("http500", request_type="004", record=True)
    response = hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": 100}}, format="json")
    charge = CardCharge.objects.get()

    after = services.card_charge_record_authorization(charge_id=charge.pk, result=resend_authorization(charge))

    assert response.status_code == 202
    assert (after.status, after.ledger_transaction, after.response_code) == (ChargeStatus.DECLINED, None, "30032")
    assert cents(funded) == PREVIOUS_BALANCE


def test_service_unavailable_is_a_charge_failure(hop_api, funded, sandbox):
    sandbox.control.add_fault("unavailable", request_type="004")
    transactions_before = Transaction.objects.count()

    response = hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": AMOUNT}}, format="json")

    assert response.status_code == 406
    assert response.json() == charge_failure("Service unavailable")
    charge = CardCharge.objects.get()
    assert (charge.status, charge.amount_authorized, charge.ledger_transaction) == (ChargeStatus.FAILED, None, None)
    assert charge.response_code == "20003"
    assert list(charge.attempts.values_list("outcome", "response_code")) == [("transient", "20003")]
    assert cents(funded) == PREVIOUS_BALANCE
    assert Transaction.objects.count() == transactions_before
    assert booked_authorizations(sandbox, charge.gateway_transaction_id) == []  # nothing was charged


def test_duplicate_transaction_answer_is_a_decline(hop_api, funded, sandbox):
    sandbox.control.add_fault("duplicate", request_type="004")

    response = hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": AMOUNT}}, format="json")

    assert response.status_code == 406
    assert response.json() == charge_failure("Duplicate Transaction")
    charge = CardCharge.objects.get()
    assert (charge.status, charge.ledger_transaction) == (ChargeStatus.DECLINED, None)
    assert cents(funded) == PREVIOUS_BALANCE


def test_gateway_unreachable_is_202_pending(hop_api, funded, settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    settings.GATEWAY_URL = f"http://127.0.0.1:{free_port}/PaymentService/RequestHandler.svc"

    response = hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": AMOUNT}}, format="json")

    assert response.status_code == 202
    assert response.json()["data"]["charge"]["status"] == "pending"
    assert CardCharge.objects.get().status == ChargeStatus.PENDING
    assert cents(funded) == PREVIOUS_BALANCE


def test_after_a_pending_charge_the_next_charge_is_independent(hop_api, funded, sandbox, short_timeout):
    sandbox.control.add_fault("drop", request_type="004")
    first = hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": AMOUNT}}, format="json")

    second = hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": AMOUNT}}, format="json")

    assert (first.status_code, second.status_code) == (202, 201)
    pending, authorized = CardCharge.objects.order_by("pk")
    assert pending.gateway_transaction_id != authorized.gateway_transaction_id
    assert (pending.status, authorized.status) == (ChargeStatus.PENDING, ChargeStatus.AUTHORIZED)
    assert cents(funded) == PREVIOUS_BALANCE + AMOUNT


@pytest.mark.django_db(transaction=True)
def test_racing_resolutions_of_one_pending_charge_credit_once(hop_api, funded, sandbox, short_timeout):
    sandbox.control.add_fault("http500", request_type="004", record=True)
    assert hop_api.post(charges_url(funded.pk), {"charge": {"amount_in_cents": AMOUNT}}, format="json").status_code == 202
    charge = CardCharge.objects.get()
    answers = [resend_authorization(charge) for _ in range(8)]  # eight workers, each re-sent and got the approval
    barrier = threading.Barrier(len(answers))

    def record(result):
        try:
            barrier.wait(timeout=30)
            return services.card_charge_record_authorization(charge_id=charge.pk, result=result).status
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(answers)) as pool:
        statuses = list(pool.map(record, answers))

    assert statuses == [ChargeStatus.AUTHORIZED] * len(answers)
    assert {a.gateway_trans_id for a in answers} == {answers[0].gateway_trans_id}
    assert cents(funded) == PREVIOUS_BALANCE + AMOUNT
    assert topups_of(charge) == 1
    assert charge.attempts.count() == 1 + len(answers)
    assert len(booked_authorizations(sandbox, charge.gateway_transaction_id)) == 1
