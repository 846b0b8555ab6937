"""Who may call which &Charge endpoint (DESIGN §3.1, §3.3): every endpoint, every bad credential.

Also: partner scope, link checks, X-Request-Id, the per-partner rate limit, unknown routes and what the logs hold.
"""

import base64
import io
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

import jwt
import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.utils import aware_utcnow

from accounts import services as accounts_services
from accounts.api.andcharge import PartnerRateThrottle
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from accounts.tests.helpers import bearer, login
from core.logging import JsonFormatter, RequestIdFilter
from ledger import selectors as ledger_selectors
from ledger.models import Account, AccountKind, Entry, Transaction
from ledger.tests.helpers import grant, pay_url

AUTHORIZATION_INVALID = {"error": "AUTHORIZATION_INVALID", "args": []}
ACCESS_DENIED = {"error": "ACCESS_DENIED", "args": []}
EXISTING_TXN = "existing-txn-1"
NEW_TXN = "new-txn-1"
GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")

# (id, method, path template). {partner} and {user} are filled per test.
ENDPOINTS = [
    ("pay", "post", "/v1/partners/{partner}/accounts/{user}/transactions"),
    ("list", "get", "/v1/partners/{partner}/accounts/{user}/transactions"),
    ("account", "get", "/v1/partners/{partner}/accounts/{user}"),
    ("detail", "get", "/v1/partners/{partner}/accounts/{user}/transactions/" + EXISTING_TXN),
]
ENDPOINT_PARAMS = [pytest.param(method, path, id=name) for name, method, path in ENDPOINTS]


@dataclass
class World:
    key: object
    secret: str
    tokens: dict
    other_key: object
    other_secret: str
    other_tokens: dict
    link: object
    other_link: object
    pending_link: object
    body: dict


@pytest.fixture
def world(partner, other_partner, api_key, tokens, funded_link, seed_request):
    """PCS-001 (pcsUserId001, 100 km, one payment of 10 km already made), PCS-002 with its own user, and
    a PCS-001 link that is still INITIAL (unconfirmed), its customer funded."""
    key, secret = api_key
    other_key, other_secret = accounts_services.api_key_create(partner=other_partner)
    other_tokens = login(APIClient(), other_key.access_key_id, other_secret).json()

    existing = dict(seed_request, transactionId=EXISTING_TXN, kilometer=10)
    response = bearer(tokens["accessToken"]).post(pay_url(), existing, format="json")
    assert response.status_code == 201, response.content

    other_link = PartnerLinkFactory(partner=other_partner, customer=CustomerFactory(), external_user_id="pcs2User")
    grant(other_link.customer, 50)
    pending_link = PartnerLinkFactory(
        partner=partner, customer=CustomerFactory(), external_user_id="pendingUser", confirmed=False
    )
    grant(pending_link.customer, 100)

    return World(
        key=key,
        secret=secret,
        tokens=tokens,
        other_key=other_key,
        other_secret=other_secret,
        other_tokens=other_tokens,
        link=funded_link,
        other_link=other_link,
        pending_link=pending_link,
        body=dict(seed_request, transactionId=NEW_TXN),
    )


def call(method: str, path: str, authorization: str | None, body: dict, **extra):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    client = APIClient()
    if method == "post":
        return client.post(path, body, format="json", **headers, **extra)
    return client.get(path, **headers, **extra)


def snapshot() -> dict:
    """Everything a refused call must leave alone: wallet balances, transactions, entries."""
    wallets = dict(Account.objects.filter(kind=AccountKind.WALLET).values_list("pk", "balance"))
    return {
        "wallets": wallets,
        "transactions": sorted(Transaction.objects.values_list("pk", flat=True)),
        "entries": Entry.objects.count(),
    }


def assert_request_id(response) -> str:
    request_id = response["X-Request-Id"]
    assert SAFE_REQUEST_ID.match(request_id), request_id
    return request_id


# --- Bad credentials: each one → 401 AUTHORIZATION_INVALID [] on every endpoint --------------------


def _expired_access(w: World) -> str:
    token = AccessToken(w.tokens["accessToken"])
    token.set_exp(from_time=aware_utcnow() - timedelta(seconds=1), lifetime=timedelta(0))
    return f"Bearer {token}"


def _revoked_key(w: World) -> str:
    accounts_services.api_key_revoke(key=w.key)
    return f"Bearer {w.tokens['accessToken']}"


def _inactive_partner(w: World) -> str:
    w.link.partner.is_active = False
    w.link.partner.save(update_fields=["is_active"])
    return f"Bearer {w.tokens['accessToken']}"


def _signed_with_secret_key(w: World) -> str:
    payload = jwt.decode(w.tokens["accessToken"], options={"verify_signature": False})
    return "Bearer " + jwt.encode(payload, django_settings.SECRET_KEY, algorithm="HS256")


def _alg_none(w: World) -> str:
    payload = jwt.decode(w.tokens["accessToken"], options={"verify_signature": False})
    return "Bearer " + jwt.encode(payload, None, algorithm="none")


def _basic_credentials(w: World) -> str:
    return "Basic " + base64.b64encode(f"{w.key.access_key_id}:{w.secret}".encode()).decode()


BAD_CREDENTIALS = [
    pytest.param(lambda w: None, id="no-header"),
    pytest.param(lambda w: "", id="empty-header"),
    pytest.param(lambda w: "Bearer", id="bearer-without-token"),
    pytest.param(lambda w: "Bearer garbage", id="bearer-garbage"),
    pytest.param(lambda w: "Bearer a.b.c", id="bearer-garbage-jwt-shape"),
    pytest.param(lambda w: f"Bearer {w.tokens['accessToken']} extra", id="bearer-token-with-trailing-junk"),
    pytest.param(lambda w: "Token x", id="wrong-scheme"),
    pytest.param(lambda w: f"Token {w.tokens['accessToken']}", id="wrong-scheme-valid-token"),
    pytest.param(_basic_credentials, id="basic-api-key-credentials"),
    pytest.param(_expired_access, id="expired-access-token"),
    pytest.param(lambda w: f"Bearer {w.tokens['refreshToken']}", id="refresh-token-as-access"),
    pytest.param(lambda w: f"Bearer {w.tokens['idToken']}", id="id-token-as-access"),
    pytest.param(_revoked_key, id="revoked-key"),
    pytest.param(_inactive_partner, id="inactive-partner"),
    pytest.param(_signed_with_secret_key, id="signed-with-secret-key"),
    pytest.param(_alg_none, id="alg-none"),
]


@pytest.mark.parametrize("make_authorization", BAD_CREDENTIALS)
@pytest.mark.parametrize(("method", "path"), ENDPOINT_PARAMS)
def test_bad_credentials_are_refused_on_every_endpoint(world, method, path, make_authorization):
    authorization = make_authorization(world)
    before = snapshot()

    response = call(method, path.format(partner="PCS-001", user="pcsUserId001"), authorization, world.body)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID
    assert_request_id(response)
    assert snapshot() == before
    assert not Transaction.objects.filter(external_id=NEW_TXN).exists()


@pytest.mark.parametrize(("method", "path"), ENDPOINT_PARAMS)
def test_bad_credentials_come_before_a_bad_body_and_the_partner_scope(world, method, path):
    """Order of checks: auth first. A garbage token on another partner's path with a bad body is still 401."""
    before = snapshot()

    response = call(method, path.format(partner="PCS-002", user="nobody"), "Bearer garbage", {"kilometer": "x"})

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path"), ENDPOINT_PARAMS)
def test_valid_token_still_works_as_a_control(world, method, path):
    """The same calls with the right token succeed, so the refusals above are about the credential."""
    response = call(
        method, path.format(partner="PCS-001", user="pcsUserId001"), f"Bearer {world.tokens['accessToken']}", world.body
    )

    assert response.status_code == (201 if method == "post" else 200), response.content
    assert_request_id(response)


# --- Partner scope: another partner's valid token → 403 ACCESS_DENIED [] ------------------------------


@pytest.mark.parametrize("user", ["pcsUserId001", "nobody"])
@pytest.mark.parametrize(("method", "path"), ENDPOINT_PARAMS)
def test_another_partners_token_on_pcs001_path_is_access_denied(world, method, path, user):
    before = snapshot()

    response = call(method, path.format(partner="PCS-001", user=user), f"Bearer {world.other_tokens['accessToken']}", world.body)

    assert response.status_code == 403
    assert response.json() == ACCESS_DENIED
    assert_request_id(response)
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path"), ENDPOINT_PARAMS)
def test_partner_scope_comes_before_the_body(world, method, path):
    before = snapshot()

    response = call(
        method, path.format(partner="PCS-001", user="pcsUserId001"), f"Bearer {world.other_tokens['accessToken']}", {}
    )

    assert response.status_code == 403
    assert response.json() == ACCESS_DENIED
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path"), ENDPOINT_PARAMS)
def test_unknown_partner_path_is_access_denied(world, method, path):
    before = snapshot()

    response = call(
        method, path.format(partner="PCS-999", user="pcsUserId001"), f"Bearer {world.tokens['accessToken']}", world.body
    )

    assert response.status_code == 403
    assert response.json() == ACCESS_DENIED
    assert snapshot() == before


# --- Links: a user linked only to another partner, or not yet confirmed → 404 ------------------------


@pytest.mark.parametrize(("method", "path"), ENDPOINT_PARAMS)
def test_user_linked_only_to_another_partner_is_not_found(world, method, path):
    before = snapshot()

    response = call(
        method, path.format(partner="PCS-002", user="pcsUserId001"), f"Bearer {world.other_tokens['accessToken']}", world.body
    )

    assert response.status_code == 404
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "pcsUserId001"]}
    assert_request_id(response)
    assert snapshot() == before
    assert not Transaction.objects.filter(external_id=NEW_TXN).exists()


@pytest.mark.parametrize(("method", "path"), ENDPOINT_PARAMS)
def test_initial_unconfirmed_link_is_not_found(world, method, path):
    before = snapshot()

    response = call(
        method, path.format(partner="PCS-001", user="pendingUser"), f"Bearer {world.tokens['accessToken']}", world.body
    )

    assert response.status_code == 404
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "pendingUser"]}
    assert snapshot() == before
    assert Account.objects.get(kind=AccountKind.WALLET, customer=world.pending_link.customer, unit="KM").balance == 100


def test_a_customer_linked_to_both_partners_shows_each_partner_only_its_own_transactions(world, other_partner):
    PartnerLinkFactory(partner=other_partner, customer=world.link.customer, external_user_id="shared2")
    other = bearer(world.other_tokens["accessToken"])

    detail = other.get(f"/v1/partners/PCS-002/accounts/shared2/transactions/{EXISTING_TXN}")
    listing = other.get("/v1/partners/PCS-002/accounts/shared2/transactions")

    assert detail.status_code == 404
    assert detail.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["transaction", EXISTING_TXN]}
    assert listing.status_code == 200
    assert listing.json() == []


def test_refused_payment_on_an_initial_link_does_not_consume_the_transaction_id(world):
    client = bearer(world.tokens["accessToken"])
    assert client.post(pay_url(user_id="pendingUser"), world.body, format="json").status_code == 404

    response = client.post(pay_url(), world.body, format="json")

    assert response.status_code == 201
    assert response.json()["transactionId"] == NEW_TXN


# --- X-Request-Id ------------------------------------------------------------------------------------


def test_every_kind_of_response_carries_a_request_id(world):
    access = f"Bearer {world.tokens['accessToken']}"
    responses = [
        call("get", pay_url(), access, world.body),  # 200
        call("post", pay_url(), access, world.body),  # 201
        call("post", pay_url(), access, {"kilometer": 1}),  # 400
        call("get", pay_url(), None, world.body),  # 401
        call("get", pay_url(), f"Bearer {world.other_tokens['accessToken']}", world.body),  # 403
        call("get", pay_url(user_id="nobody"), access, world.body),  # 404
        call("get", "/v1/no/such/route", None, world.body),  # 404 route
        call("post", pay_url(), access, world.body),  # 409
        login(APIClient(), world.key.access_key_id, world.secret),  # login 200
        login(APIClient(), world.key.access_key_id, "wrong"),  # login 401
    ]

    assert [r.status_code for r in responses] == [200, 201, 400, 401, 403, 404, 404, 409, 200, 401]
    ids = [assert_request_id(r) for r in responses]
    assert all(GENERATED_REQUEST_ID.match(request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("request_id", ["partner-req_1.2", "A", "x" * 100, "4f3c2b1a-0000-1111-2222-333344445555"])
def test_a_safe_caller_request_id_is_echoed(world, request_id):
    access = f"Bearer {world.tokens['accessToken']}"
    for method, path, authorization, expected in [
        ("post", pay_url(), access, 201),
        ("get", pay_url(), None, 401),
        ("get", pay_url(), f"Bearer {world.other_tokens['accessToken']}", 403),
        ("get", pay_url(user_id="nobody"), access, 404),
        ("get", "/v1/unknown", access, 404),
    ]:
        body = dict(world.body, transactionId=f"echo-{expected}-{len(request_id)}")
        response = call(method, path, authorization, body, HTTP_X_REQUEST_ID=request_id)
        assert response.status_code == expected
        assert response["X-Request-Id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    [
        pytest.param("has spaces in it", id="spaces"),
        pytest.param("x" * 101, id="101-chars"),
        pytest.param("y" * 5000, id="5000-chars"),
        pytest.param("semi;colon", id="semicolon"),
        pytest.param("ünïcode", id="non-ascii"),
        pytest.param("a\r\nSet-Cookie: stolen=1", id="header-injection"),
        pytest.param("<script>", id="markup"),
        pytest.param("", id="empty"),
    ],
)
def test_an_unsafe_caller_request_id_is_replaced(world, request_id):
    for authorization, expected in [(f"Bearer {world.tokens['accessToken']}", 200), (None, 401)]:
        response = call("get", pay_url(), authorization, world.body, HTTP_X_REQUEST_ID=request_id)

        assert response.status_code == expected
        assert response["X-Request-Id"] != request_id
        assert GENERATED_REQUEST_ID.match(response["X-Request-Id"])
        assert "Set-Cookie" not in response
        assert not response.cookies


def test_forced_internal_error_answers_the_envelope_with_the_request_id(world, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("forced failure for the test")

    monkeypatch.setattr(ledger_selectors, "wallet_for_partner_user", boom)

    response = call("get", pay_url(), f"Bearer {world.tokens['accessToken']}", world.body, HTTP_X_REQUEST_ID="req-500")

    assert response.status_code == 500
    assert response.json() == {"error": "INTERNAL_ERROR", "args": ["req-500"]}
    assert response["X-Request-Id"] == "req-500"
    assert b"Traceback" not in response.content
    assert b"forced failure" not in response.content


# --- Rate limit: per partner -----------------------------------------------------------------------


@pytest.fixture
def two_per_minute(world, settings, monkeypatch):
    rest_framework = dict(settings.REST_FRAMEWORK)
    rest_framework["DEFAULT_THROTTLE_RATES"] = {"partner": "2/min"}
    settings.REST_FRAMEWORK = rest_framework
    # DRF copies the rates onto the throttle class at import time.
    monkeypatch.setattr(PartnerRateThrottle, "THROTTLE_RATES", {"partner": "2/min"})
    cache.clear()  # the world fixture's own calls do not count


def assert_throttled(response) -> int:
    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"error", "args"}
    assert body["error"] == "TOO_MANY_REQUESTS"
    assert len(body["args"]) == 1
    seconds = body["args"][0]
    assert type(seconds) is int
    assert 59 <= seconds <= 60  # the window is a minute and opened a moment ago
    assert response["Retry-After"] == str(seconds)
    assert_request_id(response)
    return seconds


def test_rate_limit_answers_429_with_retry_after(world, two_per_minute):
    client = bearer(world.tokens["accessToken"])
    assert client.get(pay_url()).status_code == 200
    assert client.get(pay_url()).status_code == 200

    assert_throttled(client.get(pay_url()))
    assert_throttled(client.get("/v1/partners/PCS-001/accounts/pcsUserId001"))


def test_a_throttled_payment_moves_nothing(world, two_per_minute):
    client = bearer(world.tokens["accessToken"])
    client.get(pay_url())
    client.get(pay_url())
    before = snapshot()

    assert_throttled(client.post(pay_url(), world.body, format="json"))

    assert snapshot() == before
    assert not Transaction.objects.filter(external_id=NEW_TXN).exists()


def test_rate_limit_is_per_partner_not_per_key(world, partner, two_per_minute):
    client = bearer(world.tokens["accessToken"])
    client.get(pay_url())
    client.get(pay_url())
    assert_throttled(client.get(pay_url()))

    # Another key of the same partner shares the partner's budget.
    second_key, second_secret = accounts_services.api_key_create(partner=partner)
    second_tokens = login(APIClient(), second_key.access_key_id, second_secret).json()
    assert_throttled(bearer(second_tokens["accessToken"]).get(pay_url()))

    # The other partner is not throttled.
    other = bearer(world.other_tokens["accessToken"])
    for _ in range(2):
        response = other.get(pay_url("PCS-002", "pcs2User"))
        assert response.status_code == 200
    assert_throttled(other.get(pay_url("PCS-002", "pcs2User")))


def test_another_partners_refused_calls_do_not_use_up_pcs001s_budget(world, two_per_minute):
    intruder = bearer(world.other_tokens["accessToken"])
    for _ in range(5):
        response = intruder.get(pay_url())
        assert response.status_code == 403
        assert response.json() == ACCESS_DENIED

    client = bearer(world.tokens["accessToken"])
    assert client.get(pay_url()).status_code == 200
    assert client.get(pay_url()).status_code == 200


# --- Unknown routes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/nope",
        "/v1/partners/PCS-001",
        "/v1/partners/PCS-001/account",
        "/v1/partners/PCS-001/accounts/pcsUserId001/transactions/x/extra",
        "/v1/partners/PCS-001/accounts/pcsUserId001/transactions/",
        "/public/v1/nope",
    ],
)
@pytest.mark.parametrize("authenticated", [False, True], ids=["anonymous", "authenticated"])
def test_unknown_route_is_a_json_404_envelope(world, path, authenticated):
    authorization = f"Bearer {world.tokens['accessToken']}" if authenticated else None

    response = call("get", path, authorization, world.body)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["route", path]}
    assert b"<html" not in response.content.lower()
    assert_request_id(response)


# --- Logs never hold secrets ----------------------------------------------------------------------------


@pytest.fixture
def json_log():
    """The JSON formatter's output for everything logged at DEBUG and up during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def test_logs_never_contain_secrets_or_tokens(world, caplog, json_log, monkeypatch):
    caplog.set_level(logging.DEBUG)
    wrong_secret = world.secret[::-1]
    secrets_seen = [world.secret, wrong_secret, world.other_secret]

    # A failed and a successful login.
    assert login(APIClient(), world.key.access_key_id, wrong_secret).status_code == 401
    first = login(APIClient(), world.key.access_key_id, world.secret).json()
    # A refresh, and a replay of the used refresh token.
    refreshed = APIClient().get("/public/v1/tokens", HTTP_AUTHORIZATION=f"Bearer {first['refreshToken']}")
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert APIClient().get("/public/v1/tokens", HTTP_AUTHORIZATION=f"Bearer {first['refreshToken']}").status_code == 401
    client = bearer(second["accessToken"])
    # A payment, a refused payment (insufficient balance), a refresh token used as access token.
    assert client.post(pay_url(), world.body, format="json").status_code == 201
    too_much = dict(world.body, transactionId="too-much", kilometer=10_000)
    assert client.post(pay_url(), too_much, format="json").status_code == 422
    assert bearer(second["refreshToken"]).post(pay_url(), too_much, format="json").status_code == 401
    # A forced 500.

    def boom(**kwargs):
        raise RuntimeError("forced failure for the test")

    monkeypatch.setattr(ledger_selectors, "wallet_for_partner_user", boom)
    failed = client.get(pay_url(), HTTP_X_REQUEST_ID="req-forced-500")
    assert failed.status_code == 500

    tokens_seen = [*first.values(), *second.values(), *world.tokens.values(), *world.other_tokens.values()]
    forbidden = secrets_seen + tokens_seen
    records_text = [repr(vars(record)) for record in caplog.records]
    json_lines = json_log.getvalue().splitlines()
    for value in forbidden:
        assert value not in caplog.text
        assert not any(value in text for text in records_text)
        assert value not in json_log.getvalue()
        # Not even a token's signature (its last segment) leaks on its own.
        if value.count(".") == 2:
            signature = value.rsplit(".", 1)[1]
            assert signature not in caplog.text
            assert signature not in json_log.getvalue()

    # The capture did see the traffic: refusals and the 500 with its traceback, under their request ids.
    entries = [json.loads(line) for line in json_lines]
    assert any(e["message"] == "refused" and e.get("error") == "ACCOUNT_BALANCE_NOT_SUFFICIENT" for e in entries)
    assert any(e["message"] == "refused" and e.get("error") == "AUTHORIZATION_INVALID" for e in entries)
    crash = [e for e in entries if e["request_id"] == "req-forced-500" and "exception" in e]
    assert crash
    assert "forced failure for the test" in crash[0]["exception"]
