"""Purchases (DESIGN §4.1, HOP's purchase.md): the wallet debited down to minus the customer's credit limit, never
further (also under concurrent requests), a refusal recording nothing."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ledger.models import Entry, Transaction, TransactionKind
from ledger.tests.helpers import cents
from wallet.models import Purchase

from ..helpers import PURCHASE_DENIED, purchase, purchases_url, set_credit_limit

# purchase.md's request fields, with values.
DOCS_FIELDS = {"employee_id": "7", "qty": "2", "venue_id": "123", "tap_id": "1b", "description": "Blue Moon"}


def test_a_purchase_debits_the_wallet_and_answers_the_purchase(hop_api, hop_customer, topped_up):
    topped_up(3200)

    response = hop_api.post(purchases_url(hop_customer.pk), purchase("500", **DOCS_FIELDS), format="json")

    assert response.status_code == 201, response.content
    made = Purchase.objects.get()
    assert response.json() == {
        "data": {
            "purchase": {
                "id": made.pk,
                "purchase_at": made.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "amount_in_cents": 500,
                "balance_in_cents": 2700,
                "venue_id": "123",
                "qty": 2,
                "tap_id": "1b",
                "employee_id": "7",
                "description": "Blue Moon",
            }
        }
    }
    assert cents(hop_customer) == 2700
    txn = made.ledger_transaction
    assert (txn.kind, txn.partner.code, txn.customer_id) == (TransactionKind.PURCHASE, "PCS-001", hop_customer.pk)
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-500, 500]


def test_below_the_credit_limit_is_10008_and_records_nothing(hop_api, hop_customer, topped_up):
    topped_up(400)
    set_credit_limit(hop_customer, 100)
    entries = Entry.objects.count()

    refused = hop_api.post(purchases_url(hop_customer.pk), purchase(501), format="json")

    assert (refused.status_code, refused.json()) == (400, PURCHASE_DENIED)
    assert cents(hop_customer) == 400
    assert Entry.objects.count() == entries
    assert not Purchase.objects.exists()
    assert not Transaction.objects.filter(kind=TransactionKind.PURCHASE).exists()


def test_a_purchase_may_use_the_credit_limit_to_the_cent(hop_api, hop_customer, topped_up):
    topped_up(400)
    set_credit_limit(hop_customer, 100)

    response = hop_api.post(purchases_url(hop_customer.pk), purchase(500), format="json")

    assert response.status_code == 201
    assert response.json()["data"]["purchase"]["balance_in_cents"] == -100
    assert cents(hop_customer) == -100


def test_without_credit_an_empty_wallet_cannot_buy(hop_api, hop_customer):
    response = hop_api.post(purchases_url(hop_customer.pk), purchase(1), format="json")

    assert (response.status_code, response.json()) == (400, PURCHASE_DENIED)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"purchase": ["is missing or not an object"]}),
        ({"purchase": "500"}, {"purchase": ["is missing or not an object"]}),
        (purchase(""), {"amount_in_cents": ["is missing or empty"]}),
        (purchase(0), {"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]}),
        (purchase(-5), {"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]}),
        (purchase(1.5), {"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]}),
        (purchase(100, qty=0), {"qty": ["must be a whole number from 1 to 1000000"]}),
        (purchase(100, venue_id=True), {"venue_id": ["must be text of at most 100 characters"]}),
    ],
    ids=repr,
)
def test_bad_purchases_are_10013_and_change_nothing(hop_api, hop_customer, topped_up, body, errors):
    topped_up(1000)

    response = hop_api.post(purchases_url(hop_customer.pk), body, format="json")

    assert response.status_code == 422
    assert response.json() == {"data": {"code": 10013, "message": "Param is missing or the value is empty", "errors": errors}}
    assert cents(hop_customer) == 1000


def test_a_repeated_idempotency_key_replays_the_purchase_once(hop_api, hop_customer, topped_up):
    topped_up(1000)

    first = hop_api.post(purchases_url(hop_customer.pk), purchase(300), format="json", HTTP_IDEMPOTENCY_KEY="buy-1")
    again = hop_api.post(purchases_url(hop_customer.pk), purchase(300), format="json", HTTP_IDEMPOTENCY_KEY="buy-1")
    other = hop_api.post(purchases_url(hop_customer.pk), purchase(301), format="json", HTTP_IDEMPOTENCY_KEY="buy-1")

    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (201, 201, "true")
    assert again.json() == first.json()
    assert other.status_code == 422
    assert other.json()["data"]["code"] == 10016
    assert Purchase.objects.count() == 1
    assert cents(hop_customer) == 700


def test_purchases_list_newest_first_with_the_balance_after_each(hop_api, hop_customer, topped_up):
    topped_up(1000)
    for amount in (100, 200, 300):
        assert hop_api.post(purchases_url(hop_customer.pk), purchase(amount), format="json").status_code == 201

    first_page = hop_api.get(purchases_url(hop_customer.pk), {"per_page": 2})
    second_page = hop_api.get(purchases_url(hop_customer.pk), {"per_page": 2, "page": 2})

    assert first_page.status_code == 200
    body = first_page.json()["data"]
    assert (body["total"], body["pages"], body["next_page"]) == (3, 2, 2)
    assert [(p["amount_in_cents"], p["balance_in_cents"]) for p in body["purchases"]] == [(300, 400), (200, 700)]
    assert [(p["amount_in_cents"], p["balance_in_cents"]) for p in second_page.json()["data"]["purchases"]] == [(100, 900)]
    assert second_page.json()["data"]["next_page"] is None


@pytest.mark.django_db(transaction=True)
def test_racing_purchases_never_pass_the_credit_limit(http_server, hop_jwt, hop_customer, topped_up):
    # 1000 cents and 500 of credit: of 12 concurrent purchases of 200, exactly 7 fit (1400 ≤ 1500 < 1600).
    topped_up(1000)
    set_credit_limit(hop_customer, 500)
    barrier = threading.Barrier(12)

    def buy(_):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(
                http_server + purchases_url(hop_customer.pk),
                json=purchase(200),
                headers={"Authorization": f"Bearer {hop_jwt}"},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(buy, range(12)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 7 + [400] * 5
    assert all(r.json() == PURCHASE_DENIED for r in responses if r.status_code == 400)
    assert cents(hop_customer) == 1000 - 7 * 200 == -400
    assert Purchase.objects.count() == 7
    balances = sorted(r.json()["data"]["purchase"]["balance_in_cents"] for r in responses if r.status_code == 201)
    assert balances == [800 - 200 * n for n in range(7)][::-1]
