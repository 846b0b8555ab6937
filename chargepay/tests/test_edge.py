"""The API edge: every client and every byte gets an answer in its API's envelope, never a 500 or an HTML page.

Each junk case asserts the status, the envelope, and that nothing changed (no transaction, no entry, no card
charge, no gateway call, balances as they were).
"""

import base64
import json
import socket

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.tests.helpers import HOP_PASSWORD, bearer
from core.api.parsers import MAX_BODY_BYTES
from gateways.models import CardCharge
from gateways.tests.api.support import charge_request, charges_url
from ledger.models import Entry, Transaction
from ledger.tests.helpers import SEED_REQUEST, cents, pay_url, wallet_of

HOP_LOGIN = "/api/v1/auth/token"
ANDCHARGE_LOGIN = "/public/v1/login/partner/token"

# The envelopes.
ROUTE_NOT_FOUND_HOP = {"data": {"code": 10001, "message": "Generic default error", "errors": {"route": ["not found"]}}}
UNAUTHORIZED_HOP = {"data": {"code": 10005, "message": "Unauthorized", "errors": {"access": ["Unauthorized"]}}}
INVALID_JSON_HOP = {"data": {"code": 10012, "message": "Invalid Format", "errors": {"request": ["Invalid JSON Format"]}}}
TOO_LARGE_HOP = {
    "data": {"code": 10012, "message": "Invalid Format", "errors": {"request": [f"is larger than {MAX_BODY_BYTES} bytes"]}}
}
USER_NOT_FOUND_HOP = {"data": {"code": 10004, "message": "Record not found", "errors": {"user": ["not found"]}}}
UNAUTHORIZED = {"error": "AUTHORIZATION_INVALID", "args": []}
TOO_LARGE = {"error": "PAYLOAD_TOO_LARGE", "args": [MAX_BODY_BYTES]}

NON_JSON_ACCEPTS = ["text/html", "text/plain", "application/xml", "text/html,application/xhtml+xml;q=0.9", "image/*"]
DEEP_JSON = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"charge":' * 1000 + "1" + "}" * 1000
BIG_BODY = json.dumps({**SEED_REQUEST, "padding": "x" * (2_621_440 + 1)})  # over Django's 2.5 MiB, and over ours


@pytest.fixture
def world(funded_link, hop_customer):
    """Both APIs' customers; `snapshot()` is everything a refused request must leave as it was."""
    return funded_link, hop_customer


def snapshot(funded_link, hop_customer) -> dict:
    return {
        "transactions": Transaction.objects.count(),
        "entries": Entry.objects.count(),
        "card_charges": CardCharge.objects.count(),
        "km": wallet_of(funded_link.customer).balance,
        "cents": cents(hop_customer),
    }


@pytest.fixture
def unchanged(world, sandbox, gateway_settings):
    """Asserts at teardown that nothing moved and the gateway heard nothing."""
    before = snapshot(*world)
    yield
    assert snapshot(*world) == before
    assert sandbox.control.requests() == []


# --- Accept ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("accept", NON_JSON_ACCEPTS)
def test_any_accept_gets_json_from_the_andcharge_api(accept, api, funded_link, api_key):
    key, secret = api_key
    basic = base64.b64encode(f"{key.access_key_id}:{secret}".encode()).decode()

    account = api.get("/v1/partners/PCS-001/accounts/pcsUserId001", HTTP_ACCEPT=accept)
    login = APIClient().post(ANDCHARGE_LOGIN, HTTP_AUTHORIZATION=f"Basic {basic}", HTTP_ACCEPT=accept)
    refused = APIClient().get("/v1/partners/PCS-001/accounts/pcsUserId001", HTTP_ACCEPT=accept)
    missing = api.get("/v1/partners/PCS-001/accounts/nobody", HTTP_ACCEPT=accept)

    assert (account.status_code, account["Content-Type"]) == (200, "application/json")
    assert account.json() == {
        "userId": "pcsUserId001",
        "kmAvailable": 100,
        "kmPending": 0,
        "picturesPending": 0,
        "picturesAccepted": 0,
        "challengesSolved": 0,
        "role": "USER",
    }
    assert (login.status_code, login["Content-Type"]) == (200, "application/json")
    assert set(login.json()) == {"accessToken", "refreshToken", "idToken"}
    assert (refused.status_code, refused.json()) == (401, UNAUTHORIZED)
    assert (missing.status_code, missing.json()) == (404, {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "nobody"]})


@pytest.mark.parametrize("accept", NON_JSON_ACCEPTS)
def test_any_accept_gets_json_from_the_hop_api(accept, service_account, hop_customer):
    login = APIClient().post(
        HOP_LOGIN, {"auth": {"email": "hop@pcs.example", "password": HOP_PASSWORD}}, format="json", HTTP_ACCEPT=accept
    )
    history = bearer(login.json()["data"]["jwt"]).get(f"/api/v1/users/{hop_customer.pk}/transactions", HTTP_ACCEPT=accept)
    refused = APIClient().get(f"/api/v1/users/{hop_customer.pk}/transactions", HTTP_ACCEPT=accept)

    assert (login.status_code, login["Content-Type"]) == (201, "application/json")
    assert (history.status_code, history["Content-Type"]) == (200, "application/json")
    assert history.json()["data"]["transactions"] == []
    assert (refused.status_code, refused.json()) == (401, UNAUTHORIZED_HOP)


# --- Unknown paths, any method, CSRF enforced as a browser would meet it ---------------------------------------
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options", "head"])
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/nothing-here", {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["route", "/v1/nothing-here"]}),
        ("/public/v1/nothing", {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["route", "/public/v1/nothing"]}),
        ("/v1/partners/PCS-001/accounts/u/transactions/t/x", None),
        ("/api/v1/nothing-here", ROUTE_NOT_FOUND_HOP),
        ("/api/v1/users/1/charges/2/refunds", ROUTE_NOT_FOUND_HOP),
    ],
)
def test_unknown_api_paths_answer_the_apis_404_for_every_method(method, path, expected, unchanged):
    client = Client(enforce_csrf_checks=True)

    response = client.generic(method.upper(), path, "{}", content_type="application/json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    if method != "head":
        body = response.json()
        if expected is None:
            assert body["error"] == "REFERENCED_OBJECT_NOT_FOUND" and body["args"][0] == "route"
        else:
            assert body == expected


# --- Junk bodies ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [DEEP_JSON, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_json_is_invalid_format(body, api, hop_api, world, unchanged):
    _, hop_customer = world

    pay = api.generic("POST", pay_url(), body, content_type="application/json")
    charge = hop_api.generic("POST", charges_url(hop_customer.pk), body, content_type="application/json")
    login = APIClient().generic("POST", HOP_LOGIN, body, content_type="application/json")

    assert pay.status_code == 400
    assert pay.json()["error"] == "INVALID_FORMAT"
    assert (charge.status_code, charge.json()) == (422, INVALID_JSON_HOP)
    assert (login.status_code, login.json()) == (422, INVALID_JSON_HOP)


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, len(BIG_BODY)], ids=["over-64KiB", "over-2.5MiB"])
def test_a_body_over_the_limit_is_413(size, api, hop_api, world, unchanged):
    _, hop_customer = world
    body = BIG_BODY[: size - 2] + '"}' if size < len(BIG_BODY) else BIG_BODY

    pay = api.generic("POST", pay_url(), body, content_type="application/json")
    charge = hop_api.generic("POST", charges_url(hop_customer.pk), body, content_type="application/json")
    login = APIClient().generic("POST", HOP_LOGIN, body, content_type="application/json")

    assert (pay.status_code, pay.json()) == (413, TOO_LARGE)
    assert (charge.status_code, charge.json()) == (413, TOO_LARGE_HOP)
    assert (login.status_code, login.json()) == (413, TOO_LARGE_HOP)


def test_a_content_length_of_10_gb_is_413_without_reading_the_body(api, hop_api, world, unchanged):
    """The test client's payload refuses any read past the bytes it holds: the parser must not even try."""
    _, hop_customer = world
    body = json.dumps(SEED_REQUEST)

    pay = api.generic("POST", pay_url(), body, content_type="application/json", CONTENT_LENGTH="10000000000")
    charge = hop_api.generic(
        "POST",
        charges_url(hop_customer.pk),
        json.dumps(charge_request(500)),
        content_type="application/json",
        CONTENT_LENGTH="10000000000",
    )

    assert (pay.status_code, pay.json()) == (413, TOO_LARGE)
    assert (charge.status_code, charge.json()) == (413, TOO_LARGE_HOP)


def test_a_content_length_of_10_gb_over_a_socket_is_answered_at_once(http_server, funded_link):
    """A real server: the headers claim 10 GB and no byte follows; the whole answer comes without waiting for them
    (read until the answer's own Content-Length: the test server then drains the body before it closes)."""
    host, port = http_server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000000\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += connection.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1])
        while len(body) < length:
            body += connection.recv(65536)

    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body) == TOO_LARGE_HOP


# --- NUL bytes --------------------------------------------------------------------------------------------------
def test_a_nul_in_the_hop_login_email_is_401(service_account, unchanged):
    response = APIClient().post(HOP_LOGIN, {"auth": {"email": "hop@pcs.example\x00", "password": HOP_PASSWORD}}, format="json")

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED_HOP)
    assert response["WWW-Authenticate"] == 'Bearer realm="hop"'


def test_a_nul_in_the_basic_key_id_is_401(api_key, unchanged):
    key, secret = api_key
    raw = base64.b64encode(f"{key.access_key_id}\x00:{secret}".encode()).decode()

    response = APIClient().post(ANDCHARGE_LOGIN, HTTP_AUTHORIZATION=f"Basic {raw}")

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert response["WWW-Authenticate"] == 'Basic realm="andcharge"'


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/v1/partners/PCS-001/accounts/pcs%00User", ["pcs\x00User", "userId"]),
        ("post", "/v1/partners/PCS-001/accounts/pcs%00User/transactions", ["pcs\x00User", "userId"]),
        ("get", "/v1/partners/PCS-001/accounts/pcs%00User/transactions", ["pcs\x00User", "userId"]),
        ("get", "/v1/partners/PCS-001/accounts/pcsUserId001/transactions/34%0083", ["34\x0083", "transactionId"]),
    ],
)
def test_a_nul_in_an_andcharge_path_id_is_invalid_parameter(method, path, expected, api, unchanged):
    response = getattr(api, method)(path, SEED_REQUEST if method == "post" else None, format="json")

    assert (response.status_code, response.json()) == (400, {"error": "INVALID_PARAMETER", "args": expected})


@pytest.mark.parametrize("path", ["/api/v1/rfid/DEMO%00/charges", "/api/v1/users/1%00/charges"])
def test_a_nul_in_a_hop_path_id_names_no_customer(path, hop_api, unchanged):
    response = hop_api.post(path, charge_request(500), format="json")

    assert (response.status_code, response.json()) == (406, USER_NOT_FOUND_HOP)


# --- 401 challenges and the HOP log-in ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "challenge"),
    [
        ("/v1/partners/PCS-001/accounts/pcsUserId001", 'Bearer realm="andcharge"'),
        ("/v1/partners/PCS-001/ping", 'Bearer realm="andcharge"'),
        ("/public/v1/tokens", 'Bearer realm="andcharge"'),
        ("/api/v1/users/1/transactions", 'Bearer realm="hop"'),
    ],
)
def test_a_401_carries_its_challenge(path, challenge, db):
    response = APIClient().get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == challenge


def test_the_andcharge_login_challenges_basic(db):
    response = APIClient().post(ANDCHARGE_LOGIN)

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert response["WWW-Authenticate"] == 'Basic realm="andcharge"'


@pytest.mark.parametrize(
    "auth",
    [
        {"email": "hop@pcs.example"},
        {"email": "hop@pcs.example", "password": None},
        {"email": None, "password": HOP_PASSWORD},
        {"password": HOP_PASSWORD},
        {"email": "hop@pcs.example", "password": 12345},
        {"email": ["hop@pcs.example"], "password": HOP_PASSWORD},
    ],
    ids=["no-password", "null-password", "null-email", "no-email", "number-password", "list-email"],
)
def test_a_hop_login_without_a_usable_credential_is_401_like_a_wrong_one(auth, service_account, unchanged):
    response = APIClient().post(HOP_LOGIN, {"auth": auth}, format="json")

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED_HOP)
    assert response["WWW-Authenticate"] == 'Bearer realm="hop"'
