"""One capture per charge however often its task is delivered, and whichever worker process gets it.

The duplicates must not even reach the gateway: the work claim (a conditional UPDATE) turns them away, so the
sandbox receives exactly one 019 per charge, and the ledger holds exactly one CARD_CAPTURE per charge.
"""

import json

import pytest

from chargepay.celery import app
from gateways.models import ChargeStatus
from gateways.tests.helpers import requests_of
from ledger.models import TransactionKind
from ledger.tests.helpers import cents

from .support import (
    AUTHORIZED,
    CAPTURE_TASK,
    RECEIVABLE,
    assert_captured_once,
    booked,
    charge,
    charge_in,
    charge_through_api,
    entries_by_code,
    ledger_transactions,
    logs,
    task_results,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]


def test_the_same_capture_message_delivered_twice_captures_once(hop_api, hop_customer, sandbox, start_worker, redis_server):
    charge_id = charge_through_api(hop_api, hop_customer, 500)  # no worker yet: the API's capture message waits in Redis
    assert redis_server.queue_length() == 1
    message = redis_server.client.lindex("celery", 0)
    headers = json.loads(message)["headers"]
    assert (headers["task"], headers["argsrepr"]) == (CAPTURE_TASK, f"({charge_id},)")
    redis_server.client.lpush("celery", message)  # the very same message (same task id) delivered a second time
    for _ in range(2):  # and the task sent twice more by name
        app.send_task(CAPTURE_TASK, args=[charge_id])
    assert redis_server.queue_length() == 4

    worker = start_worker(purge=False)
    wait_for(lambda: len(task_results(worker.log(), CAPTURE_TASK)) == 4, 15, what="4 task runs", details=lambda: logs(worker))

    assert sorted(task_results(worker.log(), CAPTURE_TASK)) == ["'captured'"] + ["'nothing to do'"] * 3
    captured = assert_captured_once(sandbox, hop_customer, charge_id, 500)
    assert [r["transaction_id"] for r in requests_of(sandbox, "019")] == [captured.capture_transaction_id]
    assert captured.work_attempts == 1  # the duplicates found the charge captured: no claim
    assert redis_server.queue_length() == 0


def test_two_workers_racing_on_the_same_charges_capture_each_once(hop_api, hop_customer, sandbox, start_worker, redis_server):
    amounts = [500, 600, 700]
    charge_ids = [charge_through_api(hop_api, hop_customer, amount) for amount in amounts]
    # Each capture takes 1.5 s at the gateway, so the other worker gets duplicates while the first is still on it.
    sandbox.control.add_fault("slow", request_type="019", seconds=1.5, record=True, count=len(amounts))
    workers = [start_worker(purge=False, wait=False), start_worker(purge=False, wait=False)]
    for worker in workers:
        worker.wait_ready()
    sends = 5
    for _ in range(sends):
        for charge_id in charge_ids:
            app.send_task(CAPTURE_TASK, args=[charge_id])
    total_runs = len(charge_ids) * (sends + 1)  # the API's own enqueue plus the sends

    def all_runs() -> list[str]:
        return [result for worker in workers for result in task_results(worker.log(), CAPTURE_TASK)]

    wait_for(lambda: len(all_runs()) == total_runs, 30, what=f"{total_runs} task runs", details=lambda: logs(*workers))

    assert sorted(all_runs()) == ["'captured'"] * len(charge_ids) + ["'nothing to do'"] * (total_runs - len(charge_ids))
    assert all(task_results(worker.log(), CAPTURE_TASK) for worker in workers), "both workers must have taken part"
    for charge_id, amount in zip(charge_ids, amounts, strict=True):
        captured = charge_in(charge_id, ChargeStatus.CAPTURED)
        assert captured is not None, charge(charge_id)
        assert [r["transaction_id"] for r in requests_of(sandbox, "019", captured.capture_transaction_id)] == [
            captured.capture_transaction_id
        ]
        [capture] = booked(sandbox, captured.capture_transaction_id, "capture")
        assert capture["approved_amount"] == amount
        assert entries_by_code(captured.capture_ledger_transaction) == {AUTHORIZED: amount, RECEIVABLE: -amount}
    assert len(requests_of(sandbox, "019")) == len(charge_ids)
    assert ledger_transactions(hop_customer, TransactionKind.CARD_CAPTURE).count() == len(charge_ids)
    assert ledger_transactions(hop_customer, TransactionKind.CARD_TOPUP).count() == len(charge_ids)
    assert cents(hop_customer) == sum(amounts)
    assert redis_server.queue_length() == 0
