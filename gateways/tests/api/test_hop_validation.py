"""HOP input rules (DESIGN §4): a refused request never reaches the gateway and stores nothing; no existence leak;
the card token is shown in full only inside the gateway's own metadata."""

import logging
from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts import services as accounts_services
from core.models import IdempotencyRecord
from gateways.models import CardCharge, GatewayAttempt, PaymentMethod
from gateways.tests.factories import PaymentMethodFactory, card_holder
from ledger.models import Transaction
from ledger.tests.helpers import cents

from .support import (
    INVALID_JSON,
    ROUTE_NOT_FOUND,
    USER_NOT_FOUND,
    authorizations,
    charge_url,
    charges_url,
    invalid_params,
    rfid_charges_url,
    transactions_url,
)

AMOUNT_RANGE = "must be a whole number of cents from 1 to 100000"
TOKEN_RULE = "must be the gateway's numeric card token (at most 22 digits)"
DATE_RULE = "must be a date, YYYY-MM-DD"


def assert_nothing_happened(sandbox, customer, *, cards_before: set[tuple[str, date]]):
    assert authorizations(sandbox) == []
    assert sandbox.control.requests() == []
    assert not CardCharge.objects.exists()
    assert not GatewayAttempt.objects.exists()
    assert set(PaymentMethod.objects.filter(customer=customer).values_list("token", "expires_at")) == cards_before
    assert not Transaction.objects.filter(customer=customer).exists()
    assert cents(customer) == 0


@pytest.fixture
def cards_before(hop_customer):
    return set(PaymentMethod.objects.filter(customer=hop_customer).values_list("token", "expires_at"))


# --- amount ---------------------------------------------------------------------------------------------------

MISSING = ["is missing or empty"]
OUT_OF_RANGE = [AMOUNT_RANGE]


@pytest.mark.parametrize(
    ("charge", "message"),
    [
        ({}, MISSING),
        ({"amount_in_cents": None}, MISSING),
        ({"amount_in_cents": ""}, MISSING),
        ({"amount_in_cents": 0}, OUT_OF_RANGE),
        ({"amount_in_cents": "0"}, OUT_OF_RANGE),
        ({"amount_in_cents": -500}, OUT_OF_RANGE),
        ({"amount_in_cents": "-500"}, OUT_OF_RANGE),
        ({"amount_in_cents": 12.5}, OUT_OF_RANGE),
        ({"amount_in_cents": 500.0}, OUT_OF_RANGE),
        ({"amount_in_cents": "12.5"}, OUT_OF_RANGE),
        ({"amount_in_cents": "500.0"}, OUT_OF_RANGE),
        ({"amount_in_cents": "abc"}, OUT_OF_RANGE),
        ({"amount_in_cents": " 500"}, OUT_OF_RANGE),
        ({"amount_in_cents": "5e2"}, OUT_OF_RANGE),
        ({"amount_in_cents": "٥٠٠"}, OUT_OF_RANGE),  # Arabic-Indic digits: str.isdigit() but not ASCII
        ({"amount_in_cents": True}, OUT_OF_RANGE),
        ({"amount_in_cents": False}, OUT_OF_RANGE),
        ({"amount_in_cents": [500]}, OUT_OF_RANGE),
        ({"amount_in_cents": {"value": 500}}, OUT_OF_RANGE),
        ({"amount_in_cents": 100_001}, OUT_OF_RANGE),
        ({"amount_in_cents": "100001"}, OUT_OF_RANGE),
        ({"amount_in_cents": 10**30}, OUT_OF_RANGE),
        ({"amount_in_cents": "9" * 40}, OUT_OF_RANGE),
    ],
    ids=repr,
)
def test_bad_amount_is_refused_before_the_gateway(hop_api, hop_customer, sandbox, cards_before, charge, message):
    response = hop_api.post(charges_url(hop_customer.pk), {"charge": charge}, format="json")

    assert response.status_code == 422
    assert response.json() == invalid_params({"amount_in_cents": message})
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


def test_the_maximum_follows_the_setting(hop_api, hop_customer, sandbox, settings, cards_before):
    settings.CHARGE_MAX_CENTS = 5000

    response = hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 5001}}, format="json")

    assert response.status_code == 422
    assert response.json() == invalid_params({"amount_in_cents": ["must be a whole number of cents from 1 to 5000"]})
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)
    # ...and the maximum itself is allowed.
    assert hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 5000}}, format="json").status_code == 201
    assert cents(hop_customer) == 5000


def test_a_bad_amount_does_not_store_the_card_sent_with_it(hop_api, hop_customer, sandbox, cards_before):
    request = {"charge": {"amount_in_cents": -5, "payment_method": {"token": "4111000011112222", "expires_at": "2031-01-31"}}}

    response = hop_api.post(charges_url(hop_customer.pk), request, format="json")

    assert response.status_code == 422
    assert response.json() == invalid_params({"amount_in_cents": [AMOUNT_RANGE]})
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


# --- payment method -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["abc", "4111-1111-1111-1111", "1" * 23, -12345, "-12345", "", None, 12.5, True, "12 34", "１２３４"],
    ids=repr,
)
def test_bad_token_is_refused(hop_api, hop_customer, sandbox, cards_before, token):
    request = {"charge": {"amount_in_cents": 500, "payment_method": {"token": token, "expires_at": "2031-01-31"}}}

    response = hop_api.post(charges_url(hop_customer.pk), request, format="json")

    assert response.status_code == 422
    assert response.json() == invalid_params({"payment_method.token": [TOKEN_RULE]})
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


def test_a_22_digit_token_is_the_longest_accepted(hop_api, hop_customer, sandbox):
    request = {"charge": {"amount_in_cents": 500, "payment_method": {"token": "2" * 22, "expires_at": "2031-01-31"}}}

    response = hop_api.post(charges_url(hop_customer.pk), request, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["data"]["charge"]["metadata"]["Token"] == "2" * 22
    assert [r["token_last4"] for r in authorizations(sandbox)] == ["2222"]


@pytest.mark.parametrize(
    "expires_at",
    [
        "2031/01/31",
        "01/31",
        "0131",
        "2031-1-31",
        "20310131",
        "2031-02-30",
        "2031-13-01",
        "",
        None,
        20310131,
        "2031-01-31T00:00:00",
    ],
    ids=repr,
)
def test_bad_expiry_format_is_refused(hop_api, hop_customer, sandbox, cards_before, expires_at):
    request = {"charge": {"amount_in_cents": 500, "payment_method": {"token": "4111000011112222", "expires_at": expires_at}}}

    response = hop_api.post(charges_url(hop_customer.pk), request, format="json")

    assert response.status_code == 422
    assert response.json() == invalid_params({"payment_method.expires_at": [DATE_RULE]})
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


def test_payment_method_without_expiry_is_refused(hop_api, hop_customer, sandbox, cards_before):
    request = {"charge": {"amount_in_cents": 500, "payment_method": {"token": "4111000011112222"}}}

    response = hop_api.post(charges_url(hop_customer.pk), request, format="json")

    assert response.status_code == 422
    assert response.json() == invalid_params({"payment_method.expires_at": [DATE_RULE]})
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


@pytest.mark.parametrize("payment_method", ["4111000011112222", 12345, ["4111000011112222", "2031-01-31"]], ids=repr)
def test_payment_method_that_is_not_an_object_is_refused(hop_api, hop_customer, sandbox, cards_before, payment_method):
    response = hop_api.post(
        charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 500, "payment_method": payment_method}}, format="json"
    )

    assert response.status_code == 422
    assert response.json() == invalid_params({"payment_method": ["must be an object with token and expires_at"]})
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


@pytest.mark.parametrize("expires_at", ["2020-01-01", "2025-12-31", "1999-12-31"])
def test_expired_card_is_refused(hop_api, hop_customer, sandbox, cards_before, expires_at):
    request = {"charge": {"amount_in_cents": 500, "payment_method": {"token": "4111000011112222", "expires_at": expires_at}}}

    response = hop_api.post(charges_url(hop_customer.pk), request, format="json")

    assert response.status_code == 422
    body = response.json()
    assert body["data"]["code"] == 10013
    assert body["data"]["message"] == "Param is missing or the value is empty"
    assert len(body["data"]["errors"]) == 1
    assert next(iter(body["data"]["errors"])).endswith("expires_at")
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


def test_a_card_expiring_this_month_is_still_good(hop_api, hop_customer, sandbox):
    first_of_month = timezone.localdate().replace(day=1)
    request = {
        "charge": {
            "amount_in_cents": 500,
            "payment_method": {"token": "4111000011112222", "expires_at": first_of_month.isoformat()},
        }
    }

    response = hop_api.post(charges_url(hop_customer.pk), request, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["data"]["charge"]["metadata"]["ExpirationDate"] == first_of_month.strftime("%m%y")


def test_a_card_that_expired_last_month_is_refused(hop_api, hop_customer, sandbox, cards_before):
    last_month = timezone.localdate().replace(day=1) - timedelta(days=1)
    request = {
        "charge": {"amount_in_cents": 500, "payment_method": {"token": "4111000011112222", "expires_at": last_month.isoformat()}}
    }

    response = hop_api.post(charges_url(hop_customer.pk), request, format="json")

    assert response.status_code == 422
    assert response.json()["data"]["code"] == 10013
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


# --- body shape -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"charge": {"amount_in_cents": 500}', b"\xff\xfe", b"NaN", b'{"a": 1e400}', b"'{}'"]
)
def test_unparsable_json_is_10012(hop_api, hop_customer, sandbox, cards_before, raw):
    response = hop_api.post(charges_url(hop_customer.pk), raw, content_type="application/json")

    assert response.status_code == 422
    assert response.json() == INVALID_JSON
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


def test_unparsable_json_is_10012_even_for_an_unknown_customer(hop_api, hop_customer):
    response = hop_api.post(charges_url(hop_customer.pk + 1000), b"{not json", content_type="application/json")

    assert response.status_code == 422
    assert response.json() == INVALID_JSON


def test_a_body_that_is_not_json_at_all_is_10012(hop_api, hop_customer, sandbox, cards_before):
    response = hop_api.post(charges_url(hop_customer.pk), b"amount_in_cents=500", content_type="text/plain")

    assert response.status_code == 422
    assert response.json() == INVALID_JSON
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


@pytest.mark.parametrize("body", [{}, {"amount_in_cents": 500}, {"charge": None}, {"charge": "500"}, {"charge": [500]}, [], 500])
def test_missing_charge_object_is_10013(hop_api, hop_customer, sandbox, cards_before, body):
    response = hop_api.post(charges_url(hop_customer.pk), body, format="json")

    assert response.status_code == 422
    assert response.json() == invalid_params({"charge": ["is missing or not an object"]})
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


def test_an_empty_body_is_a_missing_charge(hop_api, hop_customer, sandbox, cards_before):
    response = hop_api.post(charges_url(hop_customer.pk), b"", content_type="application/json")

    assert response.status_code == 422
    assert response.json() == invalid_params({"charge": ["is missing or not an object"]})
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/nope"),
        ("post", "/api/v1/users/1/refunds"),
        ("get", "/api/v1/users/1/charges/1/capture"),
        ("post", "/api/v1/charges"),
        ("get", "/api/v1/"),
        ("delete", "/api/v1/rfid"),
    ],
)
def test_unknown_route_is_404_10001(hop_api, hop_customer, sandbox, cards_before, method, path):
    response = getattr(hop_api, method)(path, {"charge": {"amount_in_cents": 500}}, format="json")

    assert response.status_code == 404
    assert response.json() == ROUTE_NOT_FOUND
    assert_nothing_happened(sandbox, hop_customer, cards_before=cards_before)


def test_unknown_route_is_404_10001_without_a_token_too(client):
    response = client.get("/api/v1/does/not/exist")

    assert response.status_code == 404
    assert response.json() == ROUTE_NOT_FOUND


# --- who may be charged: no existence leak -------------------------------------------------------------------


def test_unreachable_customers_all_get_the_same_answer(hop_api, hop_customer, partner, other_customer, sandbox):
    initial_only = card_holder(partner=partner, external_user_id="initialUser", confirmed=False, token="6000000000000007")
    unlinked = PaymentMethodFactory(token="7000000000000005").customer
    missing_id = max(hop_customer.pk, other_customer.pk, initial_only.pk, unlinked.pk) + 1000
    user_ids = [
        "abc",
        "hopUser001",  # the partner's own user id is not our customer id
        "-1",
        "0",
        f"{hop_customer.pk}.0",
        f"{hop_customer.pk} ",
        "１",
        "9" * 30,
        str(missing_id),
        str(other_customer.pk),
        str(initial_only.pk),
        str(unlinked.pk),
    ]
    balances_before = {c.pk: cents(c) for c in (hop_customer, other_customer, initial_only, unlinked)}

    responses = [hop_api.post(charges_url(user_id), {"charge": {"amount_in_cents": 500}}, format="json") for user_id in user_ids]

    assert [r.status_code for r in responses] == [406] * len(user_ids)
    assert [r.content for r in responses] == [responses[0].content] * len(user_ids)
    assert responses[0].json() == USER_NOT_FOUND
    assert sandbox.control.requests() == []
    assert not CardCharge.objects.exists()
    assert {c.pk: cents(c) for c in (hop_customer, other_customer, initial_only, unlinked)} == balances_before


def test_unreachable_customer_with_a_bad_body_leaks_nothing_either(hop_api, other_customer, hop_customer):
    hidden = hop_api.post(charges_url(other_customer.pk), {"charge": {"amount_in_cents": -1}}, format="json")
    missing = hop_api.post(charges_url(other_customer.pk + 1000), {"charge": {"amount_in_cents": -1}}, format="json")

    assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content)


def test_reads_of_unreachable_customers_get_the_same_answer(hop_api, other_customer, hop_customer):
    for path in (transactions_url(other_customer.pk), transactions_url("abc"), charge_url(other_customer.pk, 1)):
        response = hop_api.get(path)
        assert response.status_code == 406, path
        assert response.json() == USER_NOT_FOUND, path


# --- the card token is masked everywhere but the gateway's metadata -----------------------------------------------

FULL_TOKEN = "4000123456789010"


def test_full_token_appears_only_in_metadata_and_never_in_logs(hop_api, hop_customer, sandbox, settings, caplog):
    caplog.set_level(logging.DEBUG)
    accounts_services.rfid_token_add(customer=hop_customer, token="rfid-session-77")
    card = {"token": FULL_TOKEN, "expires_at": "2031-01-31"}

    approved = hop_api.post(
        charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 700, "payment_method": card}}, format="json"
    )
    declined = hop_api.post(
        charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 100, "payment_method": card}}, format="json"
    )
    failed = hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 13000}}, format="json")
    by_rfid = hop_api.post(rfid_charges_url("rfid-session-77"), {"charge": {"amount_in_cents": 800}}, format="json")
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    sandbox.control.add_fault("slow", seconds=2, request_type="004")
    pending = hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 900}}, format="json")
    detail = hop_api.get(charge_url(hop_customer.pk, approved.json()["data"]["charge"]["id"]))
    history = hop_api.get(transactions_url(hop_customer.pk))

    statuses = [r.status_code for r in (approved, declined, failed, by_rfid, pending, detail, history)]
    assert statuses == [201, 406, 406, 201, 202, 200, 200]
    assert approved.json()["data"]["charge"]["metadata"]["Token"] == FULL_TOKEN
    assert detail.json()["data"]["charge"]["metadata"]["Token"] == FULL_TOKEN
    for response in (approved, detail, by_rfid):  # the gateway's metadata holds the token, as in the seed; nothing else does
        assert FULL_TOKEN not in str({**response.json()["data"]["charge"], "metadata": None})
    for response in (declined, failed, pending, history):
        assert FULL_TOKEN not in response.content.decode()
    assert FULL_TOKEN[:-4] not in caplog.text
    assert "****9010" in caplog.text and "…9010" in caplog.text  # the logs do name the card, by its last four digits
    for record in caplog.records:
        assert FULL_TOKEN not in record.getMessage()
        assert FULL_TOKEN not in str(record.args)
    assert len(authorizations(sandbox)) == 5
    assert IdempotencyRecord.objects.count() == 0
