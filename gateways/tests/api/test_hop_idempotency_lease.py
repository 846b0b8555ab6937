"""An Idempotency-Key whose request died (kill -9 of the web process during a slow gateway call) is not stuck:
after its lease a retry takes it over and finishes the same charge with the same gateway TransactionID.

The first request is served by a real gunicorn process (killed with SIGKILL, nothing cleaned up), the retries by
the test's own process, both on the real PostgreSQL test database and the real sandbox over HTTP."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from core.models import IdempotencyRecord, IdempotencyStatus
from gateways.bridgecomm import protocol
from gateways.models import CardCharge, ChargeStatus
from gateways.tests.helpers import requests_of, worker_database_url
from ledger.models import Transaction, TransactionKind
from ledger.tests.helpers import cents

from .support import KEY_IN_USE, charges_url

ROOT = Path(__file__).resolve().parents[3]
BODY = {"charge": {"amount_in_cents": "500"}}
LEASE_SECONDS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web_process(transactional_db, sandbox, tmp_path):
    """Factory: a gunicorn web process (gunicorn.conf.py, 1 process, 2 threads) on the test database and this
    test's sandbox, in its own process group. Returns (base URL, Popen)."""
    started = []

    def start():
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "GATEWAY_URL": sandbox.url,
            "GATEWAY_USER": protocol.SANDBOX_USER,
            "GATEWAY_PASSWORD": protocol.SANDBOX_PASSWORD,
            "GATEWAY_TIMEOUT_SECONDS": "20",
            "IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "2",
            "CELERY_TASK_ALWAYS_EAGER": "false",
        }
        log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 (the subprocess owns it)
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "chargepay.wsgi:application", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/api/v1/nowhere", timeout=1)
                return base, proc
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "gunicorn.log").read_text()) from None
                time.sleep(0.1)

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_a_key_whose_server_was_killed_mid_charge_is_taken_over_and_charges_once(
    web_process, hop_api, hop_jwt, hop_customer, sandbox, settings
):
    settings.IDEMPOTENCY_LEASE_SECONDS = LEASE_SECONDS
    base, server = web_process()
    # The gateway books the authorization (approves it), then takes 30 s to answer: the server is killed meanwhile.
    sandbox.control.add_fault("slow", request_type="004", seconds=30, record=True)
    headers = {"Authorization": f"Bearer {hop_jwt}", "Idempotency-Key": "top-up-1"}
    threading.Thread(
        target=lambda: _ignore_errors(
            lambda: requests.post(base + charges_url(hop_customer.pk), json=BODY, headers=headers, timeout=60)
        ),
        daemon=True,
    ).start()
    _wait_for(lambda: requests_of(sandbox, "004"), "the first authorization to reach the gateway")
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
    [first] = requests_of(sandbox, "004")
    charge = CardCharge.objects.get()
    assert (charge.status, charge.gateway_transaction_id) == (ChargeStatus.PENDING, first["transaction_id"])
    record = IdempotencyRecord.objects.get()
    assert (record.status, charge.idempotency_record_id) == (IdempotencyStatus.IN_PROGRESS, record.pk)

    # Within the lease the key is still held (the first holder might be alive): 409, nothing sent.
    held = hop_api.post(charges_url(hop_customer.pk), BODY, format="json", HTTP_IDEMPOTENCY_KEY="top-up-1")
    assert (held.status_code, held.json()) == (409, KEY_IN_USE)
    assert len(requests_of(sandbox, "004")) == 1

    # After the lease the retry takes over: the identical request, the same TransactionID, the real outcome.
    time.sleep(max(0.0, (record.lease_until - record.created_at).total_seconds() - 0.5))
    _wait_for(lambda: _lease_over(record.pk), "the lease to run out")
    retry = hop_api.post(charges_url(hop_customer.pk), BODY, format="json", HTTP_IDEMPOTENCY_KEY="top-up-1")

    assert retry.status_code == 201, retry.content
    answer = retry.json()["data"]["charge"]
    assert (answer["id"], answer["status"], answer["amount_in_cents"], answer["balance_in_cents"]) == (
        charge.pk,
        "authorized",
        500,
        500,
    )
    authorizations = requests_of(sandbox, "004")
    assert [r["transaction_id"] for r in authorizations] == [charge.gateway_transaction_id] * 2
    assert [(r["processed"], r["replayed"]) for r in authorizations] == [(True, False), (True, True)]
    [booked] = [op for op in sandbox.control.transactions() if op["transaction_type"] == "sale-auth"]
    assert (booked["transaction_id"], booked["approved_amount"]) == (charge.gateway_transaction_id, 500)
    assert answer["metadata"]["GatewayTransID"] == booked["gateway_trans_id"]
    assert CardCharge.objects.count() == 1
    assert Transaction.objects.filter(kind=TransactionKind.CARD_TOPUP).count() == 1
    assert Transaction.objects.count() == 1
    assert cents(hop_customer) == 500
    record.refresh_from_db()
    assert (record.status, record.takeovers, record.response_status) == (IdempotencyStatus.COMPLETED, 1, 201)

    # From now on the key replays that answer.
    replay = hop_api.post(charges_url(hop_customer.pk), BODY, format="json", HTTP_IDEMPOTENCY_KEY="top-up-1")
    assert (replay.status_code, replay["Idempotent-Replayed"], replay.json()) == (201, "true", retry.json())
    assert len(requests_of(sandbox, "004")) == 2
    assert cents(hop_customer) == 500


def test_a_takeover_of_a_key_whose_charge_a_worker_already_decided_answers_that_outcome(
    hop_api, hop_customer, sandbox, service_account, settings
):
    # The first request died after the charge row was written; the resolver then found it declined.
    settings.IDEMPOTENCY_LEASE_SECONDS = 0
    first = hop_api.post(
        charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 7000}}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert first.status_code == 406
    record = IdempotencyRecord.objects.get()
    IdempotencyRecord.objects.filter(pk=record.pk).update(status=IdempotencyStatus.IN_PROGRESS, response_body="")

    retry = hop_api.post(
        charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 7000}}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )

    assert (retry.status_code, retry.json()) == (406, first.json())
    assert len(requests_of(sandbox, "004")) == 1  # decided: not sent again
    assert CardCharge.objects.get().status == ChargeStatus.DECLINED
    assert cents(hop_customer) == 0
    assert IdempotencyRecord.objects.get().takeovers == 1


def _lease_over(record_pk: int) -> bool:
    return IdempotencyRecord.objects.get(pk=record_pk).lease_until <= timezone.now()


def _ignore_errors(call) -> None:
    with contextlib.suppress(requests.RequestException):  # the server is killed under it: no answer
        call()


def _wait_for(predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value
