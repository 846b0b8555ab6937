"""Settlement with a real Celery worker process, a real Redis and the real sandbox over HTTP.

Each test counts what the sandbox received and booked (`/_sandbox/requests`, `/_sandbox/transactions`) and what the
ledger holds, so "captured once" means one booked capture and one CARD_CAPTURE movement, not just a status.
"""

import csv
import io
import logging
import time

import pytest
from django.utils import timezone

from chargepay.celery import app
from gateways import services
from gateways.models import BatchStatus, ChargeStatus, GatewayAttempt, SettlementBatch
from gateways.tests.helpers import requests_of
from ledger.models import TransactionKind
from ledger.tests.helpers import cents

from .support import (
    AUTHORIZED,
    CAPTURE_TASK,
    CLOSE_BATCH_TASK,
    NOTHING_SWEPT,
    RECEIVABLE,
    SETTLED,
    assert_captured_once,
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


def test_charge_is_captured_by_the_worker_and_settled_at_batch_close(hop_api, hop_customer, sandbox, start_worker):
    worker = start_worker()

    started = time.monotonic()
    charge_id = charge_through_api(hop_api, hop_customer, 500)
    captured = wait_for(lambda: charge_in(charge_id, ChargeStatus.CAPTURED), 10, what="capture", details=lambda: logs(worker))
    assert time.monotonic() - started < 10

    assert_captured_once(sandbox, hop_customer, charge_id, 500)
    [capture_request] = requests_of(sandbox, "019")
    assert (capture_request["transaction_id"], capture_request["reference_number"], capture_request["amount"]) == (
        captured.capture_transaction_id,
        captured.gateway_trans_id,
        500,
    )
    assert processed_replayed([capture_request]) == [(True, False)]
    assert system_balances(hop_customer) == {AUTHORIZED: 0, RECEIVABLE: -500, SETTLED: 0}
    assert task_results(worker.log(), CAPTURE_TASK) == ["'captured'"]

    # The nightly task, sent by name to the worker, closes the gateway's batch.
    app.send_task(CLOSE_BATCH_TASK)
    settled = wait_for(lambda: charge_in(charge_id, ChargeStatus.SETTLED), 10, what="settlement", details=lambda: logs(worker))

    [gateway_batch] = sandbox.control.batches()
    cycle_code = gateway_batch["cycle_code"]
    assert settled.batch_id == cycle_code
    assert settled.settled_at is not None
    [batch] = SettlementBatch.objects.all()
    assert (batch.status, batch.cycle_code, batch.charge_count, batch.amount_cents) == (BatchStatus.CLOSED, cycle_code, 1, 500)
    [settle_request] = requests_of(sandbox, "020")
    assert settle_request["transaction_id"] == batch.transaction_id
    assert task_results(worker.log(), CLOSE_BATCH_TASK) == [repr(cycle_code)]

    settlements = list(ledger_transactions(hop_customer, TransactionKind.CARD_SETTLEMENT))
    assert [t.pk for t in settlements] == [settled.settlement_ledger_transaction_id]
    assert entries_by_code(settlements[0]) == {RECEIVABLE: 500, SETTLED: -500}
    assert system_balances(hop_customer) == {AUTHORIZED: 0, RECEIVABLE: 0, SETTLED: -500}
    assert card_kinds(hop_customer) == [TransactionKind.CARD_TOPUP, TransactionKind.CARD_CAPTURE, TransactionKind.CARD_SETTLEMENT]
    assert cents(hop_customer) == 500

    rows = list(csv.DictReader(io.StringIO(sandbox.control.batch_csv(cycle_code))))
    assert [(r["TransactionID"], r["Amount"], r["Type"], r["GatewayTransID"], r["AuthTransactionID"]) for r in rows] == [
        (settled.capture_transaction_id, "500", "sale", settled.capture_gateway_trans_id, settled.gateway_transaction_id)
    ]
    assert list(GatewayAttempt.objects.filter(charge_id=charge_id).order_by("pk").values_list("request_type", "outcome")) == [
        ("004", "approved"),
        ("019", "approved"),
    ]
    assert services.charges_sweep() == NOTHING_SWEPT


def test_worker_killed_mid_capture_then_restarted_captures_once(hop_api, hop_customer, sandbox, start_worker):
    # The sandbox books the capture, then sits on the answer far longer than the worker will live.
    sandbox.control.add_fault("slow", request_type="019", seconds=60, record=True)
    first = start_worker()
    charge_id = charge_through_api(hop_api, hop_customer, 500)
    wait_for(lambda: requests_of(sandbox, "019"), 10, what="the capture to reach the sandbox", details=lambda: logs(first))

    first.kill()
    assert not first.alive
    in_flight = charge(charge_id)
    assert in_flight.status == ChargeStatus.AUTHORIZED
    assert in_flight.work_lease_until is not None  # the dead worker's claim: nobody may take it until it expires
    assert in_flight.work_attempts == 1
    assert len(sandbox.control.transactions(transaction_id=in_flight.capture_transaction_id)) == 1  # the gateway did capture
    assert ledger_transactions(hop_customer, TransactionKind.CARD_CAPTURE).count() == 0

    second = start_worker(purge=False)  # the broker keeps the dead worker's unacknowledged message (not due for an hour)
    # The sweeper (as beat runs it) re-enqueues the capture only once the dead worker's lease has expired.
    wait_for(lambda: services.charges_sweep()["capture"], 15, what="the sweeper to re-enqueue the capture")
    assert timezone.now() >= in_flight.work_lease_until
    wait_for(lambda: charge_in(charge_id, ChargeStatus.CAPTURED), 10, what="capture", details=lambda: logs(first, second))

    captured = assert_captured_once(sandbox, hop_customer, charge_id, 500)
    capture_requests = requests_of(sandbox, "019")
    assert [r["transaction_id"] for r in capture_requests] == [captured.capture_transaction_id] * 2
    assert processed_replayed(capture_requests) == [(True, False), (True, True)]  # the re-sent capture was answered, not repeated
    assert captured.work_attempts == 2
    assert task_results(second.log(), CAPTURE_TASK) == ["'captured'"]


def test_redis_down_while_the_api_accepts_a_charge_then_the_sweeper_gets_it_captured(
    hop_api, hop_customer, sandbox, start_worker, redis_server, caplog
):
    redis_server.stop()
    caplog.set_level(logging.WARNING, logger="chargepay.gateways.queue")

    started = time.monotonic()
    response = post_charge(hop_api, hop_customer, 500)
    elapsed = time.monotonic() - started

    assert response.status_code == 201, response.content
    assert elapsed < 5, f"the API took {elapsed:.1f}s with Redis down"
    charge_id = response.json()["data"]["charge"]["id"]
    waiting = charge(charge_id)
    assert waiting.status == ChargeStatus.AUTHORIZED
    assert waiting.work_enqueued_at is not None
    assert waiting.work_lease_until is None
    assert cents(hop_customer) == 500
    assert [r.getMessage() for r in caplog.records if r.name == "chargepay.gateways.queue"] == [
        f"could not enqueue {CAPTURE_TASK}({charge_id},); the sweeper will"
    ]

    redis_server.start()
    assert redis_server.queue_length() == 0  # the message was never sent: only the charge's status remembers the work
    worker = start_worker(purge=False)
    time.sleep(2)
    assert requests_of(sandbox, "019") == []  # nothing captures it until the sweeper runs

    assert services.charges_sweep() == {"capture": 1, "resolve": 0, "refund": 0, "resolve_credit": 0}
    wait_for(lambda: charge_in(charge_id, ChargeStatus.CAPTURED), 10, what="capture", details=lambda: logs(worker))
    assert_captured_once(sandbox, hop_customer, charge_id, 500)
    assert len(requests_of(sandbox, "019")) == 1
    assert services.charges_sweep() == NOTHING_SWEPT
