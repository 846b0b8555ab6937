"""The worker against a misbehaving gateway: capture timeouts, authorizations whose outcome was lost,
and captures the gateway refuses for good. Real worker process, real Redis, the real sandbox over HTTP."""

import uuid

import pytest

from gateways import services
from gateways.bridgecomm import client as bridgecomm
from gateways.bridgecomm import codes
from gateways.bridgecomm.types import Outcome
from gateways.models import ChargeStatus, GatewayAttempt
from gateways.tests.helpers import requests_of
from ledger import services as ledger_services
from ledger.models import Account, AccountKind, Transaction, TransactionKind, TransactionStatus, Unit
from ledger.tests.helpers import cents, wallet_of
from reconciliation.checks import batch_matching

from .support import (
    AUTHORIZED,
    CAPTURE_TASK,
    NOTHING_SWEPT,
    RECEIVABLE,
    RESOLVE_TASK,
    SETTLED,
    assert_captured_once,
    booked,
    card_kinds,
    charge,
    charge_in,
    charge_through_api,
    entries_by_code,
    ledger_transactions,
    logs,
    post_charge,
    processed_replayed,
    system_balances,
    task_results,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]


def attempts(charge_id: int, request_type: str) -> list[tuple[str, str]]:
    return list(
        GatewayAttempt.objects.filter(charge_id=charge_id, request_type=request_type)
        .order_by("pk")
        .values_list("outcome", "error")
    )


# --- 5. Capture timeout, then recovery ------------------------------------------------------------------------


def test_capture_timeout_is_retried_with_the_same_transaction_id_and_captured_once(hop_api, hop_customer, sandbox, start_worker):
    # The sandbox books the capture, then answers after 3 s: the worker gave up after 1 s (unknown outcome).
    sandbox.control.add_fault("slow", request_type="019", seconds=3, record=True)
    worker = start_worker(GATEWAY_TIMEOUT_SECONDS="1", CAPTURE_RETRY_MAX_DELAY="1")
    charge_id = charge_through_api(hop_api, hop_customer, 500)

    wait_for(lambda: charge_in(charge_id, ChargeStatus.CAPTURED), 15, what="capture", details=lambda: logs(worker))

    captured = assert_captured_once(sandbox, hop_customer, charge_id, 500)
    capture_requests = requests_of(sandbox, "019")
    assert [r["transaction_id"] for r in capture_requests] == [captured.capture_transaction_id] * 2
    assert processed_replayed(capture_requests) == [(True, False), (True, True)]
    assert [r["fault"] for r in capture_requests] == ["slow", None]
    assert attempts(charge_id, "019") == [("unknown", "read timeout"), ("approved", "")]
    assert task_results(worker.log(), CAPTURE_TASK) == ["retry", "'captured'"]
    assert captured.work_attempts == 2


# --- 6. Pending charge after an authorization timeout ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "record", "amount", "resolved_as", "replayed"),
    [
        # The sandbox charged the card, the answer was lost: the re-sent request gets the original approval.
        pytest.param("slow", True, 500, ChargeStatus.CAPTURED, True, id="recorded-approval"),
        # The sandbox declined it, the answer was lost: the re-sent request gets the original decline.
        pytest.param("slow", True, 7000, ChargeStatus.DECLINED, True, id="recorded-decline"),
        # The request never reached the books: the re-sent request is the first one processed (approved once).
        pytest.param("drop", False, 500, ChargeStatus.CAPTURED, False, id="unrecorded-approve-range"),
        # Never booked, and the amount is in a decline range: declined on the re-send, never credited.
        pytest.param("drop", False, 7000, ChargeStatus.DECLINED, False, id="unrecorded-decline-range"),
    ],
)
def test_pending_charge_is_resolved_by_the_sweeper_and_worker(
    hop_api, hop_customer, sandbox, start_worker, gateway_settings, fault, record, amount, resolved_as, replayed
):
    gateway_settings.GATEWAY_TIMEOUT_SECONDS = 1.0  # the API's own wait
    sandbox.control.add_fault(fault, request_type="004", seconds=3, record=record)
    worker = start_worker()

    response = hop_api.post(f"/api/v1/users/{hop_customer.pk}/charges", {"charge": {"amount_in_cents": amount}}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["data"]["charge"]["status"] == "pending"
    charge_id = response.json()["data"]["charge"]["id"]
    pending = charge(charge_id)
    assert pending.status == ChargeStatus.PENDING
    assert cents(hop_customer) == 0
    assert card_kinds(hop_customer) == []
    assert len(booked(sandbox, pending.gateway_transaction_id, "sale-auth")) == (1 if record else 0)

    # The sweeper (beat) hands the pending charge to the worker once it is due; the worker re-sends the same request.
    wait_for(lambda: services.charges_sweep()["resolve"], 10, what="the sweeper to enqueue the resolution")
    wait_for(lambda: charge_in(charge_id, resolved_as), 15, what=resolved_as, details=lambda: logs(worker))

    authorizations = requests_of(sandbox, "004")
    assert [r["transaction_id"] for r in authorizations] == [pending.gateway_transaction_id] * 2
    assert processed_replayed(authorizations) == [(record, False), (True, replayed)]
    [operation] = booked(sandbox, pending.gateway_transaction_id, "sale-auth")  # charged (or declined) once, whatever happened
    outcome = "approved" if resolved_as == ChargeStatus.CAPTURED else "declined"
    assert [o for o, _ in attempts(charge_id, "004")] == ["unknown", outcome]
    assert task_results(worker.log(), RESOLVE_TASK) == [repr(ChargeStatus.AUTHORIZED.value if outcome == "approved" else outcome)]
    if resolved_as == ChargeStatus.CAPTURED:
        assert operation["status"] == "captured"
        assert_captured_once(sandbox, hop_customer, charge_id, amount)
        assert card_kinds(hop_customer) == [TransactionKind.CARD_TOPUP, TransactionKind.CARD_CAPTURE]
    else:
        declined = charge(charge_id)
        assert (operation["status"], operation["response_code"]) == ("declined", codes.INVALID_ACCOUNT_NUMBER)
        assert declined.response_code == codes.INVALID_ACCOUNT_NUMBER
        assert declined.ledger_transaction_id is None
        assert cents(hop_customer) == 0
        assert card_kinds(hop_customer) == []  # never credited
        assert requests_of(sandbox, "019") == []
    assert services.charges_sweep() == NOTHING_SWEPT


# --- 7. Terminal capture failure -----------------------------------------------------------------------------------


def test_capture_refused_for_good_goes_to_review_and_reverses_the_credit(hop_api, hop_customer, sandbox, start_worker):
    charge_id = charge_through_api(hop_api, hop_customer, 500)  # no worker yet: the capture waits in Redis
    authorized = charge(charge_id)
    assert cents(hop_customer) == 500
    # The authorization is voided at the gateway before the capture: the capture is refused (30029 Transaction Error).
    void = bridgecomm.void_or_refund(
        transaction_id=uuid.uuid4().hex, gateway_trans_id=authorized.gateway_trans_id, amount_cents=500, refund=False
    )
    assert void.outcome == Outcome.APPROVED

    worker = start_worker(purge=False)
    reviewed = wait_for(lambda: charge_in(charge_id, ChargeStatus.REVIEW), 10, what="review", details=lambda: logs(worker))

    assert reviewed.review_reason == f"capture refused: {codes.TRANSACTION_ERROR} Transaction Error"
    assert reviewed.debt_cents == 0
    assert reviewed.capture_ledger_transaction_id is None
    assert cents(hop_customer) == 0  # the credit was taken back
    reversal = Transaction.objects.get(kind=TransactionKind.REVERSAL, reverses_id=authorized.ledger_transaction_id)
    assert reversal.created_by.username == "chargepay-system"
    assert reversal.reason == reviewed.review_reason
    assert entries_by_code(reversal) == {"wallet": -500, AUTHORIZED: 500}
    assert Transaction.objects.get(pk=authorized.ledger_transaction_id).status == TransactionStatus.CANCELLED
    assert card_kinds(hop_customer) == [TransactionKind.CARD_TOPUP, TransactionKind.REVERSAL]
    [capture_request] = requests_of(sandbox, "019")
    assert (capture_request["transaction_id"], capture_request["response_code"]) == (
        authorized.capture_transaction_id,
        codes.TRANSACTION_ERROR,
    )
    assert [op["status"] for op in booked(sandbox, authorized.capture_transaction_id, "capture")] == ["declined"]
    assert task_results(worker.log(), CAPTURE_TASK) == ["'review'"]
    assert services.charges_sweep() == NOTHING_SWEPT  # review is staff work, not the sweeper's


def test_capture_refused_after_the_cents_were_spent_leaves_a_flagged_debt(hop_api, hop_customer, partner, sandbox, start_worker):
    charge_id = charge_through_api(hop_api, hop_customer, 500)  # no worker yet: the capture waits in Redis
    authorized = charge(charge_id)
    # The customer spends the credited cents (paid to the partner) before the capture fails.
    partner_usd = Account.objects.create(kind=AccountKind.PARTNER, partner=partner, unit=Unit.USD_CENTS)
    ledger_services.transaction_post(
        kind=TransactionKind.PAY_FOR_CHARGING_SESSION,
        postings=[
            ledger_services.Posting(wallet_of(hop_customer, Unit.USD_CENTS).pk, -500),
            ledger_services.Posting(partner_usd.pk, 500),
        ],
        customer_id=hop_customer.pk,
        partner=partner,
    )
    assert cents(hop_customer) == 0
    # The authorization is voided at the gateway: the capture is refused (30029 Transaction Error).
    void = bridgecomm.void_or_refund(
        transaction_id=uuid.uuid4().hex, gateway_trans_id=authorized.gateway_trans_id, amount_cents=500, refund=False
    )
    assert void.outcome == Outcome.APPROVED

    worker = start_worker(purge=False)
    reviewed = wait_for(lambda: charge_in(charge_id, ChargeStatus.REVIEW), 10, what="review", details=lambda: logs(worker))

    assert reviewed.review_reason == f"capture refused: {codes.TRANSACTION_ERROR} Transaction Error"
    assert reviewed.debt_cents == 500
    assert reviewed.capture_ledger_transaction_id is None
    assert cents(hop_customer) == 0
    assert not Transaction.objects.filter(kind=TransactionKind.REVERSAL).exists()
    assert Transaction.objects.get(pk=authorized.ledger_transaction_id).status == TransactionStatus.CONFIRMED
    assert card_kinds(hop_customer) == [TransactionKind.CARD_TOPUP, TransactionKind.PAY_FOR_CHARGING_SESSION]
    assert ledger_transactions(hop_customer, TransactionKind.CARD_CAPTURE).count() == 0
    [capture_request] = requests_of(sandbox, "019")
    assert capture_request["response_code"] == codes.TRANSACTION_ERROR
    assert [op["status"] for op in booked(sandbox, authorized.capture_transaction_id, "capture")] == ["declined"]
    assert task_results(worker.log(), CAPTURE_TASK) == ["'review'"]


# --- 30036 Duplicate Transaction to a re-sent TransactionID: the first request reached the gateway --------------


def test_capture_whose_answer_was_lost_and_whose_retry_is_a_duplicate_is_captured_not_reversed(
    hop_api, hop_customer, sandbox, start_worker, gateway_settings
):
    gateway_settings.GATEWAY_BATCH_EXPORT_URL = sandbox.base_url + "/_sandbox/batches/{cycle_code}.csv"
    # The gateway books the capture and the answer is lost; the retry (same TransactionID) is answered 30036.
    sandbox.control.add_fault("drop", request_type="019", record=True)
    sandbox.control.add_fault("duplicate", request_type="019")
    worker = start_worker()
    charge_id = charge_through_api(hop_api, hop_customer, 670)

    captured = wait_for(lambda: charge_in(charge_id, ChargeStatus.CAPTURED), 15, what="capture", details=lambda: logs(worker))

    # Our books: the credit stands, the cents moved authorized → receivable, the capture awaits the batch.
    assert (captured.capture_unconfirmed, captured.capture_gateway_trans_id, captured.review_reason) == (True, "", "")
    assert captured.debt_cents == 0
    assert cents(hop_customer) == 670
    assert card_kinds(hop_customer) == [TransactionKind.CARD_TOPUP, TransactionKind.CARD_CAPTURE]
    [capture_move] = ledger_transactions(hop_customer, TransactionKind.CARD_CAPTURE)
    assert entries_by_code(capture_move) == {AUTHORIZED: 670, RECEIVABLE: -670}
    assert not Transaction.objects.filter(kind=TransactionKind.REVERSAL).exists()
    # The gateway's books: captured once, the money it holds.
    [operation] = booked(sandbox, captured.capture_transaction_id, "capture")
    assert (operation["status"], operation["approved_amount"]) == ("captured", 670)
    capture_requests = requests_of(sandbox, "019")
    assert [r["transaction_id"] for r in capture_requests] == [captured.capture_transaction_id] * 2
    assert [(r["fault"], r["response_code"]) for r in capture_requests] == [
        ("drop", codes.SUCCESS),
        ("duplicate", codes.DUPLICATE_TRANSACTION),
    ]
    assert [o for o, _ in attempts(charge_id, "019")] == ["unknown", "declined"]  # declined: how the client sorts 30036
    assert task_results(worker.log(), CAPTURE_TASK) == ["retry", "'captured'"]
    assert services.charges_sweep() == NOTHING_SWEPT

    # The batch confirms it: settled, and reconciliation matches it by its capture TransactionID.
    batch = services.settlement_close()
    settled = charge(charge_id)
    assert (settled.status, settled.batch_id) == (ChargeStatus.SETTLED, batch.cycle_code)
    assert [row["TransactionID"] for row in sandbox.control.batch(batch.cycle_code)["rows"]] == [captured.capture_transaction_id]
    assert batch_matching(batch.cycle_code) == []
    assert system_balances(hop_customer) == {AUTHORIZED: 0, RECEIVABLE: 0, SETTLED: -670}
    assert cents(hop_customer) == 670


def test_capture_recorded_on_a_duplicate_that_the_batch_does_not_confirm_is_reported(
    hop_api, hop_customer, sandbox, start_worker, gateway_settings
):
    gateway_settings.GATEWAY_BATCH_EXPORT_URL = sandbox.base_url + "/_sandbox/batches/{cycle_code}.csv"
    # The first capture never reached the books, yet the retry is answered 30036 (a gateway that lies):
    # recorded as captured on the evidence, and reconciliation reports it when the batch lacks it.
    sandbox.control.add_fault("drop", request_type="019", record=False)
    sandbox.control.add_fault("duplicate", request_type="019")
    worker = start_worker()
    charge_id = charge_through_api(hop_api, hop_customer, 670)
    captured = wait_for(lambda: charge_in(charge_id, ChargeStatus.CAPTURED), 15, what="capture", details=lambda: logs(worker))
    assert captured.capture_unconfirmed
    assert booked(sandbox, captured.capture_transaction_id, "capture") == []

    batch = services.settlement_close()

    assert sandbox.control.batch(batch.cycle_code)["rows"] == []  # the gateway voided the uncaptured authorization
    [finding] = batch_matching(batch.cycle_code)
    assert (finding.kind, finding.expected, finding.actual) == ("missing_at_gateway", 670, None)
    assert finding.objects == {
        "batch": batch.cycle_code,
        "charge": charge_id,
        "gateway_trans_id": f"unconfirmed:{captured.capture_transaction_id}",
    }
    assert "30036" in finding.detail
    assert cents(hop_customer) == 670  # staff decide; nothing is taken back automatically


def test_pending_authorization_answered_duplicate_on_the_resend_is_parked_for_review(
    hop_api, hop_customer, sandbox, start_worker, gateway_settings
):
    # The gateway approves and books the authorization; the answer is lost (202 pending). The re-send with the
    # same TransactionID is answered 30036: the gateway holds money we cannot see, so it is not a decline.
    sandbox.control.add_fault("drop", request_type="004", record=True)
    sandbox.control.add_fault("duplicate", request_type="004")
    worker = start_worker()
    response = post_charge(hop_api, hop_customer, 670)
    assert response.status_code == 202, response.content
    charge_id = response.json()["data"]["charge"]["id"]

    wait_for(lambda: services.charges_sweep()["resolve"], 10, what="the sweeper to enqueue the resolution")
    parked = wait_for(
        lambda: (c := charge_in(charge_id, ChargeStatus.PENDING)) and c.review_reason and c, 15, details=lambda: logs(worker)
    )

    assert parked.review_reason.startswith("authorization outcome unknown: the re-sent request was answered 30036")
    assert (parked.ledger_transaction_id, parked.amount_authorized, parked.response_code) == (None, None, "")
    assert cents(hop_customer) == 0
    assert card_kinds(hop_customer) == []
    [operation] = booked(sandbox, parked.gateway_transaction_id, "sale-auth")
    assert (operation["status"], operation["approved_amount"]) == ("authorized", 670)  # the gateway holds it
    assert [r["fault"] for r in requests_of(sandbox, "004")] == ["drop", "duplicate"]
    assert [o for o, _ in attempts(charge_id, "004")] == ["unknown", "declined"]
    assert task_results(worker.log(), RESOLVE_TASK) == ["'pending'"]
    # Parked: neither the sweeper nor a resolve task sends it again.
    assert services.charges_sweep() == NOTHING_SWEPT
    assert services.card_charge_resolve(charge_id=charge_id).status == ChargeStatus.PENDING
    assert len(requests_of(sandbox, "004")) == 2
