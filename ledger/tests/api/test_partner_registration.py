"""Partner self-registration (DESIGN §3.5): POST /public/v1/partners, INITIAL until staff activate it (403 on every
call but the log-in meanwhile), duplicates, validation, the per-address rate limit."""

import pytest
from rest_framework.test import APIClient

from accounts import services as accounts_services
from accounts.models import Partner, PartnerApiKey, PartnerStatus
from accounts.tests.helpers import bearer, login
from ledger.api.partners import PartnerRegistrationThrottle
from ledger.models import Account, AccountKind
from ledger.tests.helpers import SEED_REQUEST, pay_url

URL = "/public/v1/partners"
REGISTRATION = {
    "name": "Green Miles",
    "partnerId": "GREEN-MILES",
    "type": "MSP",
    "logo": "https://greenmiles.example/logo.png",
    "web": "https://greenmiles.example",
    "descriptions": [{"lang": "en", "text": "Charging for city drivers"}],
}
ACCESS_DENIED = {"error": "ACCESS_DENIED", "args": []}


def register(body=None, address="198.51.100.7"):
    return APIClient().post(URL, REGISTRATION if body is None else body, format="json", REMOTE_ADDR=address)


@pytest.fixture
def registered(db):
    response = register()
    assert response.status_code == 201, response.content
    return response.json()


def test_registration_answers_201_initial_with_a_key_shown_once(registered):
    partner = Partner.objects.get(code="GREEN-MILES")
    key = PartnerApiKey.objects.get(partner=partner)
    assert registered == {
        **REGISTRATION,
        "id": partner.pk,
        "status": "INITIAL",
        "accessKeyId": key.access_key_id,
        "secretAccessKey": registered["secretAccessKey"],
    }
    assert registered["secretAccessKey"] not in key.secret_digest
    assert (partner.status, partner.name, partner.type, partner.descriptions) == (
        PartnerStatus.INITIAL,
        "Green Miles",
        "MSP",
        REGISTRATION["descriptions"],
    )
    assert Account.objects.filter(kind=AccountKind.PARTNER, partner=partner).count() == 1


def test_an_initial_partner_logs_in_and_every_other_call_is_403_until_activated(registered, superuser, customer):
    tokens = login(APIClient(), registered["accessKeyId"], registered["secretAccessKey"])
    assert tokens.status_code == 200
    api = bearer(tokens.json()["accessToken"])
    calls = {
        "link": lambda: api.post("/v1/partners/GREEN-MILES/accounts?userId=u1"),
        "unlink": lambda: api.delete("/v1/partners/GREEN-MILES/accounts?userId=u1"),
        "account": lambda: api.get("/v1/partners/GREEN-MILES/accounts/u1"),
        "list": lambda: api.get("/v1/partners/GREEN-MILES/accounts/u1/transactions"),
        "pay": lambda: api.post(pay_url("GREEN-MILES", "u1"), SEED_REQUEST, format="json"),
        "pay, bad body": lambda: api.post(pay_url("GREEN-MILES", "u1"), {"kilometer": -5}, format="json"),
        "apikey": lambda: api.put("/v1/partners/GREEN-MILES/apikey"),
    }
    assert {name: (call().status_code, call().json()) for name, call in calls.items()} == dict.fromkeys(
        calls, (403, ACCESS_DENIED)
    )
    refreshed = APIClient().get("/public/v1/tokens", HTTP_AUTHORIZATION=f"Bearer {tokens.json()['refreshToken']}")
    assert refreshed.status_code == 200
    # when staff activate it
    accounts_services.partner_activate_by_staff(partner_id=registered["id"], staff=superuser, reason="contract signed")
    # then the same token is served
    assert api.post("/v1/partners/GREEN-MILES/accounts?userId=u1").status_code == 201
    assert api.get("/v1/partners/GREEN-MILES/accounts/u1").status_code == 404


def test_a_duplicate_partner_id_is_refused(registered):
    response = register({**REGISTRATION, "name": "Someone else"})
    assert (response.status_code, response.json()) == (400, {"error": "PARTNER_ALREADY_REGISTERED", "args": ["GREEN-MILES"]})
    assert Partner.objects.get(code="GREEN-MILES").name == "Green Miles"


def test_an_existing_partner_code_is_a_duplicate_too(partner):
    response = register({**REGISTRATION, "partnerId": "PCS-001"})
    assert (response.status_code, response.json()) == (400, {"error": "PARTNER_ALREADY_REGISTERED", "args": ["PCS-001"]})


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"name": None}, {"error": "MANDATORY_PARAMETER_NOT_SET", "args": ["name"]}),
        ({"name": "  "}, {"error": "INVALID_PARAMETER", "args": ["  ", "name"]}),
        ({"partnerId": None}, {"error": "MANDATORY_PARAMETER_NOT_SET", "args": ["partnerId"]}),
        ({"partnerId": "a/b"}, {"error": "INVALID_PARAMETER", "args": ["a/b", "partnerId"]}),
        ({"partnerId": "x" * 101}, {"error": "PARAMETER_MAX_LENGTH", "args": ["partnerId", 100]}),
        ({"type": "CPO"}, {"error": "INVALID_PARAMETER", "args": ["CPO", "type"]}),
        ({"type": None}, {"error": "MANDATORY_PARAMETER_NOT_SET", "args": ["type"]}),
        ({"descriptions": [{"lang": "en"}]}, {"error": "INVALID_PARAMETER", "args": [[{"lang": "en"}], "descriptions"]}),
        ({"descriptions": "en"}, {"error": "INVALID_PARAMETER", "args": ["en", "descriptions"]}),
    ],
)
def test_a_bad_registration_is_refused_and_nothing_is_created(db, change, error):
    body = {key: value for key, value in {**REGISTRATION, **change}.items() if value is not None}
    response = register(body)
    assert (response.status_code, response.json()) == (400, error)
    assert not Partner.objects.exists()


def test_a_body_that_is_not_json_is_invalid_format(db):
    response = APIClient().post(URL, "nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "INVALID_FORMAT"


def test_registration_is_rate_limited_per_address(db, monkeypatch):
    monkeypatch.setitem(PartnerRegistrationThrottle.THROTTLE_RATES, "partner_registration", "2/hour")
    assert register({**REGISTRATION, "partnerId": "P-1"}).status_code == 201
    assert register({**REGISTRATION, "partnerId": "P-2"}).status_code == 201
    refused = register({**REGISTRATION, "partnerId": "P-3"})
    assert refused.status_code == 429 and refused.json()["error"] == "TOO_MANY_REQUESTS" and "Retry-After" in refused
    # a spoofed X-Forwarded-For does not escape it
    spoofed = APIClient().post(
        URL, {**REGISTRATION, "partnerId": "P-3"}, format="json", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    assert spoofed.status_code == 429
    assert register({**REGISTRATION, "partnerId": "P-3"}, address="198.51.100.8").status_code == 201
    assert Partner.objects.filter(code="P-3").count() == 1
