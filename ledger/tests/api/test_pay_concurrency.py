"""Concurrent partners over real HTTP: a live server thread per request, each with its own database
connection and real commits. The wallet row lock and the unique index decide, not Python."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db.models import Sum

from ledger.models import Entry, Transaction, TransactionKind
from ledger.tests.helpers import grant, pay_url, wallet_of

pytestmark = pytest.mark.django_db(transaction=True)


def _fire(http_server, token: str, bodies: list[dict]) -> list[requests.Response]:
    """POST every body at once (a barrier releases all threads together)."""
    barrier = threading.Barrier(len(bodies))

    def post(body):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(http_server + pay_url(), json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_40_concurrent_debits_of_7_km_on_a_100_km_wallet(http_server, link, tokens, seed_request):
    grant(link.customer, 100)
    bodies = [{**seed_request, "transactionId": f"concurrent-{i}", "kilometer": 7} for i in range(40)]

    responses = _fire(http_server, tokens["accessToken"], bodies)

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 14
    assert statuses.count(422) == 26
    refused = [r.json() for r in responses if r.status_code == 422]
    assert all(body["error"] == "ACCOUNT_BALANCE_NOT_SUFFICIENT" and body["args"][1] == 7 for body in refused)
    assert all(0 <= body["args"][0] < 7 for body in refused)
    assert wallet_of(link.customer).balance == 2
    assert Transaction.objects.filter(kind=TransactionKind.PAY_FOR_CHARGING_SESSION).count() == 14
    assert Entry.objects.aggregate(total=Sum("amount"))["total"] == 0
    assert Entry.objects.filter(account=wallet_of(link.customer)).aggregate(total=Sum("amount"))["total"] == 2


def test_20_concurrent_requests_with_one_transaction_id(http_server, link, tokens, seed_request):
    grant(link.customer, 100)
    bodies = [{**seed_request, "transactionId": "same-id", "kilometer": 5} for _ in range(20)]

    responses = _fire(http_server, tokens["accessToken"], bodies)

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1
    assert statuses.count(409) == 19
    assert all(
        r.json() == {"error": "TRANSACTION_ALREADY_PROCESSED", "args": ["same-id"]} for r in responses if r.status_code == 409
    )
    assert wallet_of(link.customer).balance == 95
    assert Transaction.objects.filter(external_id="same-id").count() == 1
    assert Entry.objects.filter(transaction__external_id="same-id").count() == 2
    assert Entry.objects.aggregate(total=Sum("amount"))["total"] == 0
