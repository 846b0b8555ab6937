"""Reads (one charge, the cents history) and charging by RFID session token (DESIGN §4)."""

from datetime import UTC, datetime

import pytest

from accounts import services as accounts_services
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from gateways.models import CardCharge, ChargeStatus
from gateways.tests.factories import card_holder
from ledger.models import Transaction
from ledger.tests.helpers import cents, grant

from .support import (
    CHARGE_AT_FORMAT,
    CHARGE_KEYS,
    SEED_METADATA_KEYS,
    USER_NOT_FOUND,
    authorizations,
    charge_url,
    charges_url,
    hop_error,
    invalid_params,
    rfid_charges_url,
    transactions_url,
)

CHARGE_NOT_FOUND = hop_error(10004, "Record not found", {"charge": ["not found"]})


def charge(client, customer, amount) -> dict:
    response = client.post(charges_url(customer.pk), {"charge": {"amount_in_cents": amount}}, format="json")
    assert response.status_code in (201, 406), response.content
    return response.json()


# --- GET /api/v1/users/{id}/charges/{charge_id} -------------------------------------------------------------------


def test_get_charge_answers_what_the_charge_answered(hop_api, hop_customer):
    created = charge(hop_api, hop_customer, 500)
    charge_id = created["data"]["charge"]["id"]

    response = hop_api.get(charge_url(hop_customer.pk, charge_id))

    assert response.status_code == 200
    body = response.json()
    assert body == created
    assert list(body["data"]["charge"]) == CHARGE_KEYS
    assert set(body["data"]["charge"]["metadata"]) == set(SEED_METADATA_KEYS)
    assert all(value is None or isinstance(value, str) for value in body["data"]["charge"]["metadata"].values())


def test_get_charge_keeps_the_metadata_in_the_gateways_order(hop_api, hop_customer):
    created = charge(hop_api, hop_customer, 500)

    response = hop_api.get(charge_url(hop_customer.pk, created["data"]["charge"]["id"]))

    assert list(response.json()["data"]["charge"]["metadata"]) == SEED_METADATA_KEYS


def test_get_charge_shows_the_current_balance(hop_api, hop_customer):
    first = charge(hop_api, hop_customer, 500)["data"]["charge"]
    charge(hop_api, hop_customer, 700)

    response = hop_api.get(charge_url(hop_customer.pk, first["id"]))

    body = response.json()["data"]["charge"]
    assert (body["amount_in_cents"], body["balance_in_cents"], body["status"]) == (500, 1200, "authorized")
    assert body["charge_at"] == first["charge_at"]


def test_get_a_declined_charge(hop_api, hop_customer):
    charge(hop_api, hop_customer, 12000)
    declined = CardCharge.objects.get()

    response = hop_api.get(charge_url(hop_customer.pk, declined.pk))

    assert response.status_code == 200
    body = response.json()["data"]["charge"]
    assert (body["id"], body["status"], body["amount_in_cents"], body["balance_in_cents"]) == (declined.pk, "declined", 12000, 0)
    assert body["metadata"]["GatewayMessage"] == "D03 - Insufficient funds"
    assert body["charge_at"] == declined.created_at.astimezone(UTC).strftime(CHARGE_AT_FORMAT)


def test_another_customers_charge_is_not_found(hop_api, hop_customer, second_customer):
    theirs = charge(hop_api, second_customer, 500)["data"]["charge"]["id"]

    response = hop_api.get(charge_url(hop_customer.pk, theirs))

    assert response.status_code == 406
    assert response.json() == CHARGE_NOT_FOUND


@pytest.mark.parametrize("charge_id", ["999999999", "abc", "-1", "1.0", "9" * 30])
def test_unknown_charge_gets_the_same_answer(hop_api, hop_customer, charge_id):
    charge(hop_api, hop_customer, 500)

    response = hop_api.get(charge_url(hop_customer.pk, charge_id))

    assert response.status_code == 406
    assert response.json() == CHARGE_NOT_FOUND


def test_a_charge_of_another_partners_customer_is_not_found(hop_api, other_hop_api, other_customer):
    theirs = charge(other_hop_api, other_customer, 500)["data"]["charge"]["id"]

    response = hop_api.get(charge_url(other_customer.pk, theirs))

    assert response.status_code == 406
    assert response.json() == USER_NOT_FOUND


# --- GET /api/v1/users/{id}/transactions ----------------------------------------------------------------------


def test_transactions_newest_first_with_only_cents_credits(hop_api, hop_customer):
    grant(hop_customer, 50)  # kilometers: not in the cents history
    charge(hop_api, hop_customer, 500)
    charge(hop_api, hop_customer, 100)  # declined: no ledger transaction
    charge(hop_api, hop_customer, 600)
    charge(hop_api, hop_customer, 15000)  # partial: 14000 credited

    response = hop_api.get(transactions_url(hop_customer.pk))

    assert response.status_code == 200
    body = response.json()["data"]
    assert (body["total"], body["pages"], body["next_page"]) == (3, 1, None)
    charges = {c.amount_requested: c for c in CardCharge.objects.filter(status=ChargeStatus.AUTHORIZED)}
    expected = [(charges[15000], 15100), (charges[600], 1100), (charges[500], 500)]
    assert body["transactions"] == [
        {
            "id": c.ledger_transaction_id,
            "type": "charge",
            "amount_in_cents": c.amount_authorized,
            "balance_in_cents": balance,
            "description": "Cents topped up by card",
            "tap_id": None,
            "qty": None,
            "venue_id": None,
            "created_at": Transaction.objects.get(pk=c.ledger_transaction_id).created_at.strftime(CHARGE_AT_FORMAT),
        }
        for c, balance in expected
    ]
    assert [row["amount_in_cents"] for row in body["transactions"]] == [14000, 600, 500]
    for row in body["transactions"]:
        datetime.strptime(row["created_at"], CHARGE_AT_FORMAT)


def test_transactions_pagination(hop_api, hop_customer):
    for amount in (501, 502, 503, 504, 505):
        charge(hop_api, hop_customer, amount)

    pages = [hop_api.get(transactions_url(hop_customer.pk), {"page": page, "per_page": 2}) for page in (1, 2, 3, 4)]

    assert [r.status_code for r in pages] == [200] * 4
    assert [[row["amount_in_cents"] for row in r.json()["data"]["transactions"]] for r in pages] == [
        [505, 504],
        [503, 502],
        [501],
        [],
    ]
    assert [(r.json()["data"]["total"], r.json()["data"]["pages"], r.json()["data"]["next_page"]) for r in pages] == [
        (5, 3, 2),
        (5, 3, 3),
        (5, 3, None),
        (5, 3, None),
    ]


def test_transactions_of_a_customer_without_any(hop_api, hop_customer):
    response = hop_api.get(transactions_url(hop_customer.pk))

    assert response.status_code == 200
    assert response.json() == {"data": {"total": 0, "pages": 0, "next_page": None, "transactions": []}}


def test_transactions_are_the_customers_own(hop_api, hop_customer, second_customer):
    charge(hop_api, second_customer, 700)
    charge(hop_api, hop_customer, 500)

    response = hop_api.get(transactions_url(hop_customer.pk))

    assert [row["amount_in_cents"] for row in response.json()["data"]["transactions"]] == [500]


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"page": "0"}, {"page": ["must be a whole number from 1 to 10000000"]}),
        ({"page": "-1"}, {"page": ["must be a whole number from 1 to 10000000"]}),
        ({"page": "abc"}, {"page": ["must be a whole number from 1 to 10000000"]}),
        ({"page": ""}, {"page": ["must be a whole number from 1 to 10000000"]}),
        ({"page": "1.5"}, {"page": ["must be a whole number from 1 to 10000000"]}),
        ({"page": "١"}, {"page": ["must be a whole number from 1 to 10000000"]}),
        ({"page": "10000001"}, {"page": ["must be a whole number from 1 to 10000000"]}),
        ({"per_page": "0"}, {"per_page": ["must be a whole number from 1 to 100"]}),
        ({"per_page": "101"}, {"per_page": ["must be a whole number from 1 to 100"]}),
        ({"per_page": "ten"}, {"per_page": ["must be a whole number from 1 to 100"]}),
    ],
    ids=repr,
)
def test_bad_page_parameters_are_10013(hop_api, hop_customer, params, errors):
    response = hop_api.get(transactions_url(hop_customer.pk), params)

    assert response.status_code == 422
    assert response.json() == invalid_params(errors)


def test_largest_page_parameters_are_accepted(hop_api, hop_customer):
    response = hop_api.get(transactions_url(hop_customer.pk), {"page": "10000000", "per_page": "100"})

    assert response.status_code == 200
    assert response.json() == {"data": {"total": 0, "pages": 0, "next_page": None, "transactions": []}}


# --- POST /api/v1/rfid/{session_token}/charges ----------------------------------------------------------------


def test_rfid_charge_credits_the_tokens_customer(hop_api, hop_customer, second_customer, sandbox):
    accounts_services.rfid_token_add(customer=hop_customer, token="04:A2:3B:7C:11:90")
    accounts_services.rfid_token_add(customer=second_customer, token="second-card")

    response = hop_api.post(rfid_charges_url("04:A2:3B:7C:11:90"), {"charge": {"amount_in_cents": "500"}}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()["data"]["charge"]
    assert list(body) == CHARGE_KEYS
    stored = CardCharge.objects.get()
    assert (body["id"], body["amount_in_cents"], body["balance_in_cents"], body["status"]) == (stored.pk, 500, 500, "authorized")
    assert list(body["metadata"]) == SEED_METADATA_KEYS
    assert body["metadata"]["Token"] == "1000000074340019"
    assert stored.customer_id == hop_customer.pk
    assert (cents(hop_customer), cents(second_customer)) == (500, 0)
    assert [r["token_last4"] for r in authorizations(sandbox)] == ["0019"]


def test_rfid_charge_with_a_payment_method_stores_it_for_that_customer(hop_api, hop_customer, sandbox):
    accounts_services.rfid_token_add(customer=hop_customer, token="rfid-1")
    request = {"charge": {"amount_in_cents": 500, "payment_method": {"token": "12345", "expires_at": "2031-01-31"}}}

    response = hop_api.post(rfid_charges_url("rfid-1"), request, format="json")

    assert response.status_code == 201
    assert hop_customer.payment_methods.filter(token="12345").exists()
    assert [r["token_last4"] for r in authorizations(sandbox)] == ["2345"]


def test_rfid_charge_answers_as_the_user_route_on_decline(hop_api, hop_customer):
    accounts_services.rfid_token_add(customer=hop_customer, token="rfid-1")

    response = hop_api.post(rfid_charges_url("rfid-1"), {"charge": {"amount_in_cents": 100}}, format="json")

    assert response.status_code == 406
    assert response.json() == hop_error(10006, "Charge transaction failure", {"charge": ["Denied by customer's bank"]})
    assert cents(hop_customer) == 0


def test_rfid_validation_is_the_same(hop_api, hop_customer, sandbox):
    accounts_services.rfid_token_add(customer=hop_customer, token="rfid-1")

    response = hop_api.post(rfid_charges_url("rfid-1"), {"charge": {"amount_in_cents": "12.5"}}, format="json")

    assert response.status_code == 422
    assert response.json() == invalid_params({"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]})
    assert authorizations(sandbox) == []


def _rfid_refused(hop_api, session_token, sandbox, customers):
    balances = [cents(c) for c in customers]
    response = hop_api.post(rfid_charges_url(session_token), {"charge": {"amount_in_cents": 500}}, format="json")
    assert response.status_code == 406
    assert response.json() == USER_NOT_FOUND
    assert sandbox.control.requests() == []
    assert not CardCharge.objects.exists()
    assert [cents(c) for c in customers] == balances


def test_rfid_unknown_token(hop_api, hop_customer, sandbox):
    accounts_services.rfid_token_add(customer=hop_customer, token="rfid-1")

    _rfid_refused(hop_api, "rfid-2", sandbox, [hop_customer])
    _rfid_refused(hop_api, "RFID-1", sandbox, [hop_customer])  # tokens are exact


def test_rfid_revoked_token(hop_api, hop_customer, sandbox):
    rfid = accounts_services.rfid_token_add(customer=hop_customer, token="rfid-1")
    accounts_services.rfid_token_revoke(rfid=rfid)

    _rfid_refused(hop_api, "rfid-1", sandbox, [hop_customer])


def test_rfid_token_of_a_customer_of_another_partner(hop_api, other_customer, sandbox):
    accounts_services.rfid_token_add(customer=other_customer, token="their-rfid")

    _rfid_refused(hop_api, "their-rfid", sandbox, [other_customer])


def test_rfid_token_of_a_customer_whose_link_is_not_confirmed(hop_api, partner, sandbox):
    customer = card_holder(partner=partner, external_user_id="pendingUser", confirmed=False, token="6000000000000007")
    accounts_services.rfid_token_add(customer=customer, token="pending-rfid")

    _rfid_refused(hop_api, "pending-rfid", sandbox, [customer])


def test_rfid_token_of_a_customer_without_a_card(hop_api, partner, sandbox):
    customer = CustomerFactory()
    PartnerLinkFactory(partner=partner, customer=customer, external_user_id="noCard")
    accounts_services.rfid_token_add(customer=customer, token="no-card-rfid")

    response = hop_api.post(rfid_charges_url("no-card-rfid"), {"charge": {"amount_in_cents": 500}}, format="json")

    assert response.status_code == 406
    assert response.json() == hop_error(10006, "Charge transaction failure", {"payment": ["details are missing"]})
    assert sandbox.control.requests() == []
