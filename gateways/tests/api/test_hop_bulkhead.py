"""The bulkhead: a slow gateway holds at most GATEWAY_CALLS_PER_PROCESS web threads of a process. A HOP charge
beyond that is answered 503 10019 with Retry-After within a second, charges nothing and leaves its
Idempotency-Key retryable, while the kilometer payments served by the same process go on.

Real concurrent requests to a real threaded HTTP server (one process: the bulkhead is per process), the real
sandbox, the real PostgreSQL test database."""

import threading
import time

import pytest
import requests
from django.utils import timezone

from core.models import IdempotencyRecord, IdempotencyStatus
from gateways.models import CardCharge
from gateways.tests.helpers import requests_of
from ledger.models import Transaction, TransactionKind
from ledger.tests.helpers import cents, pay_url, wallet_of

from .support import charges_url

pytestmark = pytest.mark.django_db(transaction=True)

GATEWAY_BUSY = {
    "data": {"code": 10019, "message": "Card gateway busy", "errors": {"charge": ["nothing was charged; retry in 1 s"]}}
}


def test_a_charge_beyond_the_bulkhead_is_refused_at_once_and_the_key_stays_retryable(
    http_server, hop_jwt, hop_customer, sandbox, settings, tokens, funded_link, seed_request
):
    settings.GATEWAY_CALLS_PER_PROCESS = 1
    sandbox.control.add_fault("slow", request_type="004", seconds=2, record=True)
    hop = {"Authorization": f"Bearer {hop_jwt}"}
    url = http_server + charges_url(hop_customer.pk)
    first: dict = {}
    slow = threading.Thread(
        target=lambda: first.update(
            response=requests.post(
                url, json={"charge": {"amount_in_cents": 500}}, headers={**hop, "Idempotency-Key": "a"}, timeout=10
            )
        )
    )
    slow.start()
    wait_for(lambda: requests_of(sandbox, "004"), "the first authorization to reach the gateway")

    started = time.monotonic()
    refused = requests.post(url, json={"charge": {"amount_in_cents": 600}}, headers={**hop, "Idempotency-Key": "b"}, timeout=5)
    refused_in = time.monotonic() - started
    started = time.monotonic()
    keyless = requests.post(url, json={"charge": {"amount_in_cents": 700}}, headers=hop, timeout=5)
    keyless_in = time.monotonic() - started
    # The kilometer side of the same process is served while the gateway holds its slot.
    paid = requests.post(
        http_server + pay_url(user_id="pcsUserId001"),
        json=seed_request,
        headers={"Authorization": f"Bearer {tokens['accessToken']}"},
        timeout=5,
    )
    assert slow.is_alive()  # all of this happened while the first charge waited for the gateway

    assert (refused.status_code, refused.json(), refused.headers["Retry-After"]) == (503, GATEWAY_BUSY, "1")
    assert refused_in < 1.0
    assert (keyless.status_code, keyless.json(), keyless.headers["Retry-After"], keyless_in < 1.0) == (
        503,
        GATEWAY_BUSY,
        "1",
        True,
    )
    assert paid.status_code == 201, paid.content
    assert len(requests_of(sandbox, "004")) == 1  # nothing sent for the refused charges
    assert CardCharge.objects.count() == 1  # and nothing recorded
    refused_key = IdempotencyRecord.objects.get(key="b")
    assert (refused_key.status, refused_key.response_body) == (IdempotencyStatus.IN_PROGRESS, "")
    assert refused_key.lease_until <= timezone.now()  # its lease ended at once: retryable

    slow.join(timeout=10)
    assert first["response"].status_code == 201
    assert cents(hop_customer) == 500

    # The refused key is retryable as soon as a slot is free: the retry is a new charge, not a replayed 503.
    retried = requests.post(url, json={"charge": {"amount_in_cents": 600}}, headers={**hop, "Idempotency-Key": "b"}, timeout=10)
    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried.headers
    assert retried.json()["data"]["charge"]["balance_in_cents"] == 1100
    assert [r["response_code"] for r in requests_of(sandbox, "004")] == ["00000", "00000"]
    assert sorted(op["approved_amount"] for op in sandbox.control.transactions()) == [500, 600]
    assert CardCharge.objects.count() == 2
    assert cents(hop_customer) == 1100
    assert Transaction.objects.filter(kind=TransactionKind.CARD_TOPUP).count() == 2
    assert wallet_of(funded_link.customer).balance == 100 - seed_request["kilometer"]
    retried_key = IdempotencyRecord.objects.get(key="b")
    assert (retried_key.status, retried_key.takeovers, retried_key.response_status) == (IdempotencyStatus.COMPLETED, 1, 201)
    assert CardCharge.objects.get(idempotency_record=retried_key).amount_requested == 600


def wait_for(predicate, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value
