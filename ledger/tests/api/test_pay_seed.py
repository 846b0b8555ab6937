"""The seed document's sample request and its four error examples, exactly."""

import re
from datetime import UTC, datetime, timedelta

from ledger.models import Entry, Transaction
from ledger.tests.helpers import grant, pay_url, wallet_of

CREATED_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def test_seed_sample_request_gives_the_seed_response(api, funded_link, seed_request):
    before = datetime.now(UTC)

    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 201
    body = response.json()
    assert list(body) == ["transactionId", "partner", "kilometer", "status", "created", "type", "address"]
    created = body.pop("created")
    assert body == {
        "transactionId": "348328463873",  # the request's id (the seed's …872 is a typo)
        "partner": "MSP Partner",
        "kilometer": -38,
        "status": "CONFIRMED",
        "type": "PAY_FOR_CHARGING_SESSION",
        "address": "Kölner Straße, Eschborn",
    }
    assert CREATED_RE.match(created)
    created_at = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert before - timedelta(seconds=1) <= created_at <= datetime.now(UTC)
    assert response["X-Request-Id"]
    assert wallet_of(funded_link.customer).balance == 62


def test_seed_error_negative_kilometers(api, funded_link, seed_request):
    seed_request["kilometer"] = -5

    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 400
    assert response.json() == {"error": "INVALID_PARAMETER", "args": [-5, "kilometer"]}
    assert wallet_of(funded_link.customer).balance == 100


def test_seed_error_unknown_user(api, funded_link, seed_request):
    response = api.post(pay_url(user_id="msp_001-unknown"), seed_request, format="json")

    assert response.status_code == 404
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "msp_001-unknown"]}


def test_seed_error_insufficient_balance(api, link, seed_request):
    grant(link.customer, 15)
    seed_request["kilometer"] = 25

    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 422
    assert response.json() == {"error": "ACCOUNT_BALANCE_NOT_SUFFICIENT", "args": [15, 25]}
    assert wallet_of(link.customer).balance == 15
    assert not Transaction.objects.filter(external_id="348328463873").exists()


def test_seed_error_already_processed(api, funded_link, seed_request):
    assert api.post(pay_url(), seed_request, format="json").status_code == 201

    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 409
    assert response.json() == {"error": "TRANSACTION_ALREADY_PROCESSED", "args": ["348328463873"]}
    assert wallet_of(funded_link.customer).balance == 62
    assert Entry.objects.filter(transaction__external_id="348328463873").count() == 2


def test_refused_request_does_not_consume_the_transaction_id(api, link, seed_request):
    grant(link.customer, 15)
    seed_request["kilometer"] = 25
    assert api.post(pay_url(), seed_request, format="json").status_code == 422

    grant(link.customer, 10)
    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 201
    assert wallet_of(link.customer).balance == 0
