"""The payment's hot path: the token is checked from its claims, the API key inside the posting's own round trip.

A revoked key must still get 401 before any other answer (DESIGN §3.3 order), whichever check would refuse
the request first, and a successful payment costs one database statement.
"""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services as accounts_services
from accounts.api.andcharge import PartnerRateThrottle
from ledger.models import Transaction
from ledger.tests.helpers import pay_url, wallet_of

AUTHORIZATION_INVALID = {"error": "AUTHORIZATION_INVALID", "args": []}


@pytest.mark.django_db(transaction=True)
def test_a_payment_is_one_database_statement(api, funded_link, seed_request):
    with CaptureQueriesContext(connection) as queries:
        response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 201, response.json()
    assert len(queries) == 1
    assert "ledger_charging_session_pay" in queries[0]["sql"]


def test_the_balance_read_checks_the_key_once(api, funded_link):
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/v1/partners/PCS-001/accounts/pcsUserId001")

    assert response.status_code == 200
    assert sum("accounts_partnerapikey" in q["sql"] for q in queries) == 1


@pytest.fixture
def revoked(api_key, funded_link):
    accounts_services.api_key_revoke(key=api_key[0])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param(pay_url(), {"kilometer": "x"}, id="bad-body"),
        pytest.param(pay_url(), "not an object", id="body-not-an-object"),
        pytest.param(pay_url("PCS-002"), None, id="another-partners-path"),
        pytest.param(pay_url(user_id="nobody"), None, id="unknown-user"),
        pytest.param(pay_url(user_id="x" * 101), None, id="user-id-too-long"),
    ],
)
def test_a_revoked_key_is_401_whatever_else_is_wrong(api, revoked, other_partner, seed_request, path, body):
    response = api.post(path, seed_request if body is None else body, format="json")

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_a_revoked_key_is_401_not_409(api, api_key, funded_link, seed_request):
    assert api.post(pay_url(), seed_request, format="json").status_code == 201
    accounts_services.api_key_revoke(key=api_key[0])

    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_a_revoked_key_is_401_not_422(api, revoked, funded_link, seed_request):
    response = api.post(pay_url(), dict(seed_request, kilometer=1000), format="json")

    assert response.status_code == 401
    assert wallet_of(funded_link.customer).balance == 100


def test_a_revoked_key_is_401_not_429(api, revoked, seed_request, monkeypatch):
    monkeypatch.setattr(PartnerRateThrottle, "THROTTLE_RATES", {"partner": "1/min"})
    cache.clear()

    for _ in range(3):
        response = api.post(pay_url(), seed_request, format="json")
        assert response.status_code == 401
        assert response.json() == AUTHORIZATION_INVALID
    assert not Transaction.objects.filter(external_id=seed_request["transactionId"]).exists()


def test_a_deactivated_partner_is_401_on_the_payment(api, partner, funded_link, seed_request):
    partner.is_active = False
    partner.save(update_fields=["is_active"])

    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 401
    assert wallet_of(funded_link.customer).balance == 100


def test_the_rate_limit_counts_atomically_in_one_window(api, funded_link, monkeypatch):
    monkeypatch.setattr(PartnerRateThrottle, "THROTTLE_RATES", {"partner": "3/min"})
    cache.clear()

    statuses = [api.get("/v1/partners/PCS-001/accounts/pcsUserId001").status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
