"""The settlement services' rules, without a worker: work claims, what the sweeper picks up, when a batch may close.

Enqueues still go to the real (dedicated) Redis, whose queue the tests read back; the sandbox is the real one.
"""

import base64
import csv
import io
import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from gateways import services
from gateways.models import BatchStatus, CardCharge, ChargeStatus, SettlementBatch
from gateways.tests.helpers import requests_of
from ledger import services as ledger_services
from ledger.models import SystemAccount, TransactionKind

from .support import (
    CAPTURE_TASK,
    NOTHING_SWEPT,
    REFUND_TASK,
    RESOLVE_TASK,
    charge,
    charge_through_api,
    processed_replayed,
)

LEASE = timedelta(seconds=3)  # conftest: CHARGE_WORK_LEASE_SECONDS
LONG_AGO = timedelta(minutes=5)


def make_charge(service_account, customer, status: str, amount: int = 500, **fields) -> CardCharge:
    """A charge in `status` as the services leave it: credited (CARD_TOPUP), then CARD_CAPTURE, then CARD_SETTLEMENT."""
    credited = status in (ChargeStatus.AUTHORIZED, ChargeStatus.CAPTURED, ChargeStatus.SETTLED, ChargeStatus.REVIEW)
    if credited:
        fields["ledger_transaction"] = ledger_services.card_topup_credit(customer_id=customer.pk, amount_cents=amount)
        fields["amount_authorized"] = amount
        fields.setdefault("gateway_trans_id", "123456789")
        fields.setdefault("capture_transaction_id", uuid.uuid4().hex)
    if status in (ChargeStatus.CAPTURED, ChargeStatus.SETTLED):
        fields["capture_ledger_transaction"] = ledger_services.card_funds_move(
            kind=TransactionKind.CARD_CAPTURE,
            customer_id=customer.pk,
            amount_cents=amount,
            source=SystemAccount.USD_CARD_AUTHORIZED,
            target=SystemAccount.USD_CARD_RECEIVABLE,
        )
        fields.setdefault("captured_at", timezone.now() - timedelta(seconds=1))
    if status == ChargeStatus.SETTLED:
        fields["settlement_ledger_transaction"] = ledger_services.card_funds_move(
            kind=TransactionKind.CARD_SETTLEMENT,
            customer_id=customer.pk,
            amount_cents=amount,
            source=SystemAccount.USD_CARD_RECEIVABLE,
            target=SystemAccount.USD_CARD_SETTLED,
        )
        fields.setdefault("batch_id", "202611210001")
    return CardCharge.objects.create(
        customer=customer,
        payment_method=customer.payment_methods.get(),
        requested_by=service_account,
        partner=service_account.partner,
        amount_requested=amount,
        status=status,
        gateway_transaction_id=uuid.uuid4().hex,
        **fields,
    )


def queued(redis_server) -> list[tuple[str, list]]:
    """(task name, args) of every message waiting in the dedicated Redis's default queue, oldest first."""
    messages = [json.loads(raw) for raw in reversed(redis_server.client.lrange("celery", 0, -1))]
    return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]


# --- charge_work_claim ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_two_claims_one_wins(service_account, hop_customer):
    charge = make_charge(service_account, hop_customer, ChargeStatus.AUTHORIZED)

    first = services.charge_work_claim(charge_id=charge.pk, status=ChargeStatus.AUTHORIZED)
    second = services.charge_work_claim(charge_id=charge.pk, status=ChargeStatus.AUTHORIZED)

    assert first is not None
    assert second is None
    charge.refresh_from_db()
    assert charge.work_attempts == 1
    assert timezone.now() < charge.work_lease_until <= timezone.now() + LEASE


@pytest.mark.django_db
def test_a_claim_needs_the_status_the_work_is_for(service_account, hop_customer):
    pending = make_charge(service_account, hop_customer, ChargeStatus.PENDING)
    captured = make_charge(service_account, hop_customer, ChargeStatus.CAPTURED)

    assert services.charge_work_claim(charge_id=pending.pk, status=ChargeStatus.AUTHORIZED) is None
    assert services.charge_work_claim(charge_id=captured.pk, status=ChargeStatus.AUTHORIZED) is None
    assert services.charge_work_claim(charge_id=pending.pk, status=ChargeStatus.PENDING) is not None
    assert CardCharge.objects.get(pk=captured.pk).work_lease_until is None


@pytest.mark.django_db
def test_an_expired_lease_can_be_claimed_again_and_a_live_one_cannot(service_account, hop_customer):
    dead = make_charge(
        service_account, hop_customer, ChargeStatus.AUTHORIZED, work_lease_until=timezone.now() - timedelta(seconds=1)
    )
    busy = make_charge(
        service_account, hop_customer, ChargeStatus.AUTHORIZED, work_lease_until=timezone.now() + timedelta(seconds=30)
    )

    reclaimed = services.charge_work_claim(charge_id=dead.pk, status=ChargeStatus.AUTHORIZED)
    assert reclaimed is not None
    assert reclaimed.work_lease_until > timezone.now()
    assert reclaimed.work_attempts == 1
    assert services.charge_work_claim(charge_id=busy.pk, status=ChargeStatus.AUTHORIZED) is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_from_many_connections_have_one_winner(service_account, hop_customer):
    charge = make_charge(service_account, hop_customer, ChargeStatus.AUTHORIZED)
    claimants = 8
    barrier = threading.Barrier(claimants)
    results: list[bool] = []

    def claim() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(services.charge_work_claim(charge_id=charge.pk, status=ChargeStatus.AUTHORIZED) is not None)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(claimants)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(results) == [False] * (claimants - 1) + [True]
    assert CardCharge.objects.get(pk=charge.pk).work_attempts == 1


# --- charges_sweep --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sweeper_reenqueues_only_due_unclaimed_work(service_account, hop_customer, redis_server):
    now = timezone.now()
    long_ago = now - LONG_AGO

    def make(status, **fields):
        return make_charge(service_account, hop_customer, status, **fields).pk

    due_pending = make(ChargeStatus.PENDING, work_enqueued_at=long_ago)
    due_authorized = make(ChargeStatus.AUTHORIZED, work_enqueued_at=long_ago)
    never_enqueued = make(ChargeStatus.AUTHORIZED, work_enqueued_at=None)
    dead_lease = make(ChargeStatus.AUTHORIZED, work_enqueued_at=long_ago, work_lease_until=now - timedelta(seconds=1))
    just_enqueued = make(ChargeStatus.AUTHORIZED, work_enqueued_at=now)
    being_worked = make(ChargeStatus.PENDING, work_enqueued_at=long_ago, work_lease_until=now + timedelta(seconds=30))
    refunding = make(ChargeStatus.AUTHORIZED)
    services.card_charge_refund_request(charge_id=refunding, requested_by=service_account, reason="customer asked")
    CardCharge.objects.filter(pk=refunding).update(work_enqueued_at=long_ago)
    done = [
        make(status, work_enqueued_at=long_ago)
        for status in (
            ChargeStatus.CAPTURED,
            ChargeStatus.SETTLED,
            ChargeStatus.REVIEW,
            ChargeStatus.DECLINED,
            ChargeStatus.FAILED,
        )
    ]
    before = dict(CardCharge.objects.values_list("pk", "work_enqueued_at"))

    assert services.charges_sweep() == {"capture": 3, "resolve": 1, "refund": 1, "resolve_credit": 0}

    assert queued(redis_server) == [
        (RESOLVE_TASK, [due_pending]),
        (CAPTURE_TASK, [due_authorized]),
        (CAPTURE_TASK, [never_enqueued]),
        (CAPTURE_TASK, [dead_lease]),
        (REFUND_TASK, [refunding]),
    ]
    after = dict(CardCharge.objects.values_list("pk", "work_enqueued_at"))
    for swept in (due_pending, due_authorized, never_enqueued, dead_lease, refunding):
        assert after[swept] >= now  # marked enqueued: the next sweep waits for it to start
    for untouched in (just_enqueued, being_worked, *done):
        assert after[untouched] == before[untouched]
    assert services.charges_sweep() == NOTHING_SWEPT
    assert len(queued(redis_server)) == 5


# --- settlement_close -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_settlement_waits_for_authorized_charges_and_enqueues_their_captures(
    service_account, hop_customer, sandbox, gateway_settings, redis_server
):
    waiting = make_charge(service_account, hop_customer, ChargeStatus.AUTHORIZED)
    make_charge(service_account, hop_customer, ChargeStatus.CAPTURED)

    with pytest.raises(services.SettlementNotReady):
        services.settlement_close()

    assert queued(redis_server) == [(CAPTURE_TASK, [waiting.pk])]
    assert not SettlementBatch.objects.exists()
    assert sandbox.control.requests(request_type="020") == []
    assert not CardCharge.objects.filter(status=ChargeStatus.SETTLED).exists()


@pytest.mark.django_db
def test_settlement_resends_an_unanswered_batch_request_with_its_transaction_id(
    service_account, hop_customer, sandbox, gateway_settings
):
    captured = make_charge(service_account, hop_customer, ChargeStatus.CAPTURED, amount=700)
    unanswered = SettlementBatch.objects.create(transaction_id="batch-request-lost-on-the-way")

    batch = services.settlement_close()

    assert batch.pk == unanswered.pk
    [settle_request] = sandbox.control.requests(request_type="020")
    assert settle_request["transaction_id"] == "batch-request-lost-on-the-way"
    [gateway_batch] = sandbox.control.batches()
    assert (batch.status, batch.cycle_code, batch.charge_count, batch.amount_cents) == (
        BatchStatus.CLOSED,
        gateway_batch["cycle_code"],
        1,
        700,
    )
    captured.refresh_from_db()
    assert (captured.status, captured.batch_id) == (ChargeStatus.SETTLED, gateway_batch["cycle_code"])


@pytest.mark.django_db
def test_a_settlement_whose_answer_was_lost_settles_exactly_what_the_gateway_batch_holds(
    hop_api, hop_customer, sandbox, gateway_settings
):
    first = charge_through_api(hop_api, hop_customer, 500)
    assert services.card_charge_capture(charge_id=first).status == ChargeStatus.CAPTURED
    # The gateway closes the batch, but its answer (the CycleCode) is lost on the way back.
    gateway_settings.GATEWAY_TIMEOUT_SECONDS = 1.0
    sandbox.control.add_fault("slow", request_type="020", seconds=2, record=True)
    with pytest.raises(services.GatewayNotDone):
        services.settlement_close()
    [gateway_batch] = sandbox.control.batches()
    # A charge captured after the gateway closed that batch belongs to the gateway's next batch.
    later = charge_through_api(hop_api, hop_customer, 600)
    assert services.card_charge_capture(charge_id=later).status == ChargeStatus.CAPTURED

    batch = services.settlement_close()  # re-sends the 020 with the same TransactionID: the same CycleCode comes back

    settle_requests = requests_of(sandbox, "020")
    assert [r["transaction_id"] for r in settle_requests] == [batch.transaction_id] * 2
    assert processed_replayed(settle_requests) == [(True, False), (True, True)]
    assert batch.cycle_code == gateway_batch["cycle_code"]
    rows = list(csv.DictReader(io.StringIO(sandbox.control.batch_csv(batch.cycle_code))))
    assert [(r["TransactionID"], r["Amount"]) for r in rows] == [(charge(first).capture_transaction_id, "500")]
    # Our books must say what the gateway's batch says: only the first charge was settled in it.
    assert (batch.charge_count, batch.amount_cents) == (1, 500)
    assert (charge(first).status, charge(first).batch_id) == (ChargeStatus.SETTLED, batch.cycle_code)
    assert (charge(later).status, charge(later).batch_id) == (ChargeStatus.CAPTURED, "")
