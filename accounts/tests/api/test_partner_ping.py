"""`GET /v1/partners/{partnerId}/ping`: the partners' liveness check (token checked, no database, no rate limit)."""

import time
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.utils import aware_utcnow

from accounts.api.andcharge import PartnerRateThrottle

PING_URL = "/v1/partners/PCS-001/ping"
AUTHORIZATION_INVALID = {"error": "AUTHORIZATION_INVALID", "args": []}


def ping(authorization: str | None, path: str = PING_URL):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    return APIClient().get(path, **headers)


def test_ping_answers_up_without_touching_the_database(tokens):
    with CaptureQueriesContext(connection) as queries:
        response = ping(f"Bearer {tokens['accessToken']}")

    assert response.status_code == 200
    assert response.json() == {"partnerId": "PCS-001", "status": "UP"}
    assert response["X-Request-Id"]
    assert len(queries) == 0


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer", id="bearer-without-token"),
        pytest.param("Bearer garbage", id="garbage"),
        pytest.param("Token x", id="wrong-scheme"),
    ],
)
def test_ping_refuses_a_missing_or_malformed_token(tokens, authorization):
    response = ping(authorization)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


@pytest.mark.parametrize("kind", ["refreshToken", "idToken"])
def test_ping_refuses_tokens_that_are_not_access_tokens(tokens, kind):
    response = ping(f"Bearer {tokens[kind]}")

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_ping_refuses_an_expired_token(tokens):
    token = AccessToken(tokens["accessToken"])
    token.set_exp(from_time=aware_utcnow() - timedelta(seconds=1), lifetime=timedelta(0))

    response = ping(f"Bearer {token}")

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_ping_refuses_a_token_signed_with_another_key(tokens):
    payload = jwt.decode(tokens["accessToken"], options={"verify_signature": False})

    response = ping("Bearer " + jwt.encode(payload, settings.SECRET_KEY, algorithm="HS256"))

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_ping_refuses_a_token_without_the_andcharge_claims(tokens):
    token = AccessToken(tokens["accessToken"])
    del token["kid"]

    response = ping(f"Bearer {token}")

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_ping_on_another_partners_path_is_access_denied(tokens, other_partner):
    response = ping(f"Bearer {tokens['accessToken']}", "/v1/partners/PCS-002/ping")

    assert response.status_code == 403
    assert response.json() == {"error": "ACCESS_DENIED", "args": []}


def test_ping_is_not_rate_limited(tokens, settings, monkeypatch):
    monkeypatch.setattr(PartnerRateThrottle, "THROTTLE_RATES", {"partner": "1/min"})

    for _ in range(3):
        assert ping(f"Bearer {tokens['accessToken']}").status_code == 200


def test_ping_is_in_the_andcharge_schema(client):
    schema = client.get("/api/schema/andcharge/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operation = schema["paths"]["/v1/partners/{partner_id}/ping"]["get"]
    assert operation["operationId"] == "ping"
    assert {"200", "401", "403"} <= set(operation["responses"])


def test_a_token_checked_once_still_expires_on_time(tokens):
    """Verified tokens are remembered per process, but their expiry is checked on every use."""
    token = AccessToken(tokens["accessToken"])
    # exp is whole seconds (rounded down): 2 s leaves at least one for the first call on a loaded machine.
    token.set_exp(lifetime=timedelta(seconds=2))
    assert ping(f"Bearer {token}").status_code == 200

    time.sleep(2.1)

    response = ping(f"Bearer {token}")
    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID
