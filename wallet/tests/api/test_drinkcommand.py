"""Drink Command (HOP's drinkcommand.md): the customer by session token, a charge of the card on record, line items
idempotent by line_item_id. Against the real gateway sandbox; line items applied eagerly here (the worker's own
tests are in wallet/tests/tasks)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from accounts import services as accounts_services
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from core.models import IdempotencyRecord
from gateways import services as gateway_services
from gateways.models import CardCharge, PaymentMethod
from ledger.models import Entry, Transaction, TransactionKind
from ledger.tests.helpers import cents
from wallet import services
from wallet.models import LineItem, LineItemStatus

from ..helpers import (
    LINE_ITEM_ID_MISSING,
    LINE_ITEM_SAMPLE,
    PAYMENT_EXPIRED,
    PAYMENT_NOT_AVAILABLE,
    SESSION_TOKEN_NOT_FOUND,
    dc_charge_url,
    dc_customer_url,
    dc_line_item_url,
    drinkcommand_charge_failure,
    line_item,
    set_credit_limit,
)

SAMPLE_ID = "a097ca3e-d7c8-4850-b654-835a7d3fe294"


@pytest.fixture(autouse=True)
def _eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.AUTO_TOPUP_CENTS = 0


# --- GET /api/v1/drinkcommand/customer/{session_token} ---------------------------------------------------------


def test_customer_information_by_session_token(hop_api, hop_customer, rfid, topped_up):
    hop_customer.name = "Test T Tester"
    hop_customer.save()
    set_credit_limit(hop_customer, 20000)
    topped_up(3200)

    response = hop_api.get(dc_customer_url(rfid))

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "first_name": "Test T",
            "last_name": "Tester",
            "name_on_card": "Test T Tester",
            "card_type": None,
            "masked_number": "********0019",
            "expires_at": "2030-12-31",
            "balance_in_cents": 3200,
            "credit_limit_in_cents": 20000,
        }
    }


def test_no_card_on_record_is_payment_not_available(hop_api, partner):
    customer = CustomerFactory()
    PartnerLinkFactory(partner=partner, customer=customer)
    accounts_services.rfid_token_add(customer=customer, token="1685583843")

    response = hop_api.get(dc_customer_url("1685583843"))
    charge = hop_api.post(dc_charge_url("1685583843"), {"charge": {"amount_in_cents": 500}}, format="json")

    assert (response.status_code, response.json()) == (406, PAYMENT_NOT_AVAILABLE)
    assert (charge.status_code, charge.json()) == (406, PAYMENT_NOT_AVAILABLE)


def test_an_expired_card_is_payment_expired(hop_api, hop_customer, rfid, sandbox):
    PaymentMethod.objects.filter(customer=hop_customer).update(expires_at=timezone.localdate() - timedelta(days=1))

    response = hop_api.get(dc_customer_url(rfid))
    charge = hop_api.post(dc_charge_url(rfid), {"charge": {"amount_in_cents": 500}}, format="json")

    assert (response.status_code, response.json()) == (406, PAYMENT_EXPIRED)
    assert (charge.status_code, charge.json()) == (406, PAYMENT_EXPIRED)
    assert sandbox.control.requests() == []


@pytest.mark.parametrize("token", ["1685583844", "revoked-token"])
def test_an_unknown_or_revoked_session_token_is_20404(hop_api, hop_customer, token):
    accounts_services.rfid_token_add(customer=hop_customer, token="revoked-token")
    hop_customer.rfid_tokens.update(revoked_at=timezone.now())

    responses = [
        hop_api.get(dc_customer_url(token)),
        hop_api.post(dc_charge_url(token), {"charge": {"amount_in_cents": 500}}, format="json"),
        hop_api.post(dc_line_item_url(token), LINE_ITEM_SAMPLE, format="json"),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(404, SESSION_TOKEN_NOT_FOUND)] * 3
    assert not LineItem.objects.exists()


# --- POST /api/v1/drinkcommand/charge/{session_token} ----------------------------------------------------------


@pytest.mark.parametrize("amount", [500, "500"])
def test_a_successful_charge(hop_api, hop_customer, rfid, gateway_settings, amount):
    response = hop_api.post(dc_charge_url(rfid), {"charge": {"amount_in_cents": amount}}, format="json")

    assert response.status_code == 201, response.content
    charge = CardCharge.objects.get()
    reference = charge.metadata["ReferenceNumber"] or charge.metadata["AuthorizationCode"]
    assert reference
    assert response.json() == {"data": {"amount_in_cents": 500, "balance_in_cents": 500, "reference_number": reference}}
    assert (charge.status, charge.partner.code, charge.payment_method.token) == ("authorized", "PCS-001", "1000000074340019")
    assert cents(hop_customer) == 500


@pytest.mark.parametrize(
    ("amount", "description"),
    [
        ("125", "Denied by customer's bank"),
        ("12000", "Insufficient funds"),
        ("7000", "Invalid Account Number"),
        ("13000", "Processing Network Unavailable"),
    ],
)
def test_the_docs_refusals_are_20400_with_the_gateways_description(
    hop_api, hop_customer, rfid, gateway_settings, amount, description
):
    response = hop_api.post(dc_charge_url(rfid), {"charge": {"amount_in_cents": amount}}, format="json")

    assert (response.status_code, response.json()) == (406, drinkcommand_charge_failure(description))
    assert cents(hop_customer) == 0


def test_a_charge_with_an_idempotency_key_charges_once(hop_api, hop_customer, rfid, gateway_settings, sandbox):
    body = {"charge": {"amount_in_cents": 700}}

    first = hop_api.post(dc_charge_url(rfid), body, format="json", HTTP_IDEMPOTENCY_KEY="dc-1")
    again = hop_api.post(dc_charge_url(rfid), body, format="json", HTTP_IDEMPOTENCY_KEY="dc-1")

    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (201, 201, "true")
    assert again.json() == first.json()
    assert len(sandbox.control.requests(request_type="004")) == 1
    assert cents(hop_customer) == 700


def test_a_bad_charge_amount_is_10013(hop_api, hop_customer, rfid, sandbox):
    response = hop_api.post(dc_charge_url(rfid), {"charge": {"amount_in_cents": "abc"}}, format="json")

    assert response.status_code == 422
    assert response.json()["data"]["code"] == 10013
    assert sandbox.control.requests() == []


# --- POST /api/v1/drinkcommand/line_item/{session_token} -------------------------------------------------------


def test_the_docs_line_item_is_pending_then_processed_on_the_same_id(
    hop_api, hop_customer, rfid, topped_up, django_capture_on_commit_callbacks
):
    topped_up(1000)

    with django_capture_on_commit_callbacks(execute=True):
        first = hop_api.post(dc_line_item_url(rfid), LINE_ITEM_SAMPLE, format="json")
    again = hop_api.post(dc_line_item_url(rfid), LINE_ITEM_SAMPLE, format="json")

    assert (first.status_code, first.json()) == (201, {"data": {"line_item_id": SAMPLE_ID, "status": "pending"}})
    assert (again.status_code, again.json()) == (201, {"data": {"line_item_id": SAMPLE_ID, "status": "processed"}})
    item = LineItem.objects.get()
    assert (item.status, item.money_units, item.tap_id, item.venue_id, item.account_name) == (
        "processed",
        -175,
        "1b",
        "123",
        "Blue Moon",
    )
    assert item.ledger_transaction.kind == TransactionKind.LINE_ITEM_PURCHASE
    assert cents(hop_customer) == 825


@pytest.mark.parametrize(
    "body",
    [
        {"line_item": {**LINE_ITEM_SAMPLE["line_item"], "line_item_id": None}},
        {"line_item": {**LINE_ITEM_SAMPLE["line_item"], "line_item_id": ""}},
        {"line_item": {key: value for key, value in LINE_ITEM_SAMPLE["line_item"].items() if key != "line_item_id"}},
        {"line_item": "x"},
        {},
    ],
    ids=["null", "empty", "absent", "not an object", "no line_item"],
)
def test_a_line_item_without_its_id_is_the_docs_20402(hop_api, hop_customer, rfid, body):
    response = hop_api.post(dc_line_item_url(rfid), body, format="json")

    assert (response.status_code, response.json()) == (406, LINE_ITEM_ID_MISSING)
    assert not LineItem.objects.exists()


def test_a_line_item_with_bad_money_units_is_20402(hop_api, hop_customer, rfid):
    response = hop_api.post(dc_line_item_url(rfid), line_item("x-1", "a lot"), format="json")

    assert response.status_code == 406
    assert response.json()["data"]["code"] == 20402
    assert not LineItem.objects.exists()


def test_a_line_item_past_the_credit_limit_without_auto_top_up_is_rejected(
    hop_api, hop_customer, rfid, topped_up, sandbox, django_capture_on_commit_callbacks
):
    topped_up(100)
    set_credit_limit(hop_customer, 50)

    with django_capture_on_commit_callbacks(execute=True):
        response = hop_api.post(dc_line_item_url(rfid), line_item("pour-1", -151), format="json")
    again = hop_api.post(dc_line_item_url(rfid), line_item("pour-1", -151), format="json")

    assert response.json()["data"]["status"] == "pending"
    assert again.json()["data"]["status"] == "rejected"
    item = LineItem.objects.get()
    assert (item.status, item.reject_reason, item.ledger_transaction, item.topup_charge) == (
        LineItemStatus.REJECTED,
        "the balance would pass the credit limit",
        None,
        None,
    )
    assert cents(hop_customer) == 100
    assert sandbox.control.requests() == []
    assert not CardCharge.objects.exists()
    assert not IdempotencyRecord.objects.exists()  # no top-up was even begun


def test_a_positive_line_item_gives_cents_back(hop_api, hop_customer, rfid, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = hop_api.post(dc_line_item_url(rfid), line_item("return-1", 300), format="json")

    assert response.status_code == 201
    assert LineItem.objects.get().ledger_transaction.kind == TransactionKind.LINE_ITEM_CREDIT
    assert cents(hop_customer) == 300


@pytest.mark.django_db(transaction=True)
def test_a_line_item_sent_concurrently_is_applied_once(http_server, hop_jwt, hop_customer, rfid, topped_up):
    topped_up(1000)
    barrier = threading.Barrier(8)

    def send(_):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(
                http_server + dc_line_item_url(rfid),
                json=LINE_ITEM_SAMPLE,
                headers={"Authorization": f"Bearer {hop_jwt}"},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(8)))

    assert [r.status_code for r in responses] == [201] * 8
    assert {r.json()["data"]["line_item_id"] for r in responses} == {SAMPLE_ID}
    assert [r.json()["data"]["status"] for r in responses].count("pending") >= 1
    assert LineItem.objects.count() == 1
    assert Transaction.objects.filter(kind=TransactionKind.LINE_ITEM_PURCHASE).count() == 1
    assert cents(hop_customer) == 825
    assert Entry.objects.filter(transaction__kind=TransactionKind.LINE_ITEM_PURCHASE).count() == 2


def test_a_declined_auto_top_up_rejects_the_line_item_and_is_never_sent_again(
    hop_api, hop_customer, rfid, gateway_settings, sandbox, admin_user, django_capture_on_commit_callbacks
):
    gateway_settings.AUTO_TOPUP_CENTS = 125  # the sandbox denies 1 to 499 (D01)

    with django_capture_on_commit_callbacks(execute=True):
        hop_api.post(dc_line_item_url(rfid), line_item("pour-1", -500), format="json")
    item = LineItem.objects.get()
    assert (item.status, item.reject_reason) == (
        LineItemStatus.REJECTED,
        "the balance would pass the credit limit; auto top-up declined: Denied by customer's bank",
    )
    assert item.topup_charge.status == "declined"

    with django_capture_on_commit_callbacks(execute=True):
        services.line_item_retry_by_staff(line_item_pk=item.pk, staff=admin_user, reason="customer says the card works")

    item.refresh_from_db()
    assert item.status == LineItemStatus.REJECTED
    assert len(sandbox.control.requests(request_type="004")) == 1  # the top-up's key replays its first outcome
    assert cents(hop_customer) == 0


def test_an_unknown_outcome_is_202_pending_and_a_worker_credits_it_once(hop_api, hop_customer, rfid, gateway_settings, sandbox):
    sandbox.control.add_fault("drop", request_type="004", count=1)

    response = hop_api.post(dc_charge_url(rfid), {"charge": {"amount_in_cents": 600}}, format="json", HTTP_IDEMPOTENCY_KEY="dc-9")

    assert (response.status_code, response.json()) == (
        202,
        {"data": {"amount_in_cents": 600, "balance_in_cents": 0, "reference_number": None}},
    )
    charge = CardCharge.objects.get()
    assert charge.status == "pending"
    gateway_services.card_charge_resolve(charge_id=charge.pk)  # what the worker does: the same TransactionID again
    gateway_services.card_charge_resolve(charge_id=charge.pk)
    assert cents(hop_customer) == 600
    assert [op["request_type"] for op in sandbox.control.transactions(transaction_id=charge.gateway_transaction_id)] == ["004"]
