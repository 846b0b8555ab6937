"""&Charge partner login and token rotation (DESIGN §3.1): Basic login, refresh rotation, JWT hardening."""

import base64
import json
import threading
from datetime import timedelta

import jwt
import pytest
import requests
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.utils import aware_utcnow

from accounts import services as accounts_services
from accounts.tests.helpers import login

LOGIN_URL = "/public/v1/login/partner/token"
TOKENS_URL = "/public/v1/tokens"
ACCOUNT_URL = "/v1/partners/PCS-001/accounts/pcsUserId001"
AUTHORIZATION_INVALID = {"error": "AUTHORIZATION_INVALID", "args": []}
TOKEN_KEYS = {"accessToken", "refreshToken", "idToken"}


def basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


def post_login(authorization: str | None):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    return APIClient().post(LOGIN_URL, **headers)


def refresh(raw_refresh_token: str):
    return APIClient().get(TOKENS_URL, HTTP_AUTHORIZATION=f"Bearer {raw_refresh_token}")


def get_account(raw_access_token: str):
    return APIClient().get(ACCOUNT_URL, HTTP_AUTHORIZATION=f"Bearer {raw_access_token}")


def decode(raw: str) -> dict:
    """Verify a token exactly as a careful third party would: our key, HS256 only, our issuer and audience."""
    return jwt.decode(
        raw,
        settings.JWT_SIGNING_KEY,
        algorithms=["HS256"],
        issuer=settings.SIMPLE_JWT["ISSUER"],
        audience=settings.SIMPLE_JWT["AUDIENCE"],
    )


def unverified_payload(raw: str) -> dict:
    return jwt.decode(raw, options={"verify_signature": False})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_three_valid_tokens(body: dict) -> None:
    assert set(body) == TOKEN_KEYS
    assert decode(body["accessToken"])["token_type"] == "access"
    assert decode(body["refreshToken"])["token_type"] == "refresh"
    assert decode(body["idToken"])["token_type"] == "id"


# --- Login ------------------------------------------------------------------------------------


def test_login_with_basic_credentials_returns_three_tokens(api_key, link):
    key, secret = api_key

    response = login(APIClient(), key.access_key_id, secret)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["X-Request-Id"]
    body = response.json()
    assert_three_valid_tokens(body)
    assert len({body["accessToken"], body["refreshToken"], body["idToken"]}) == 3
    # The access token works at once on the partner's own path.
    assert get_account(body["accessToken"]).status_code == 200
    # The refresh token is recorded (so it can be rotated and blacklisted).
    assert OutstandingToken.objects.filter(jti=decode(body["refreshToken"])["jti"]).exists()


def test_login_twice_gives_independent_token_sets(api_key):
    key, secret = api_key

    first = login(APIClient(), key.access_key_id, secret).json()
    second = login(APIClient(), key.access_key_id, secret).json()

    assert decode(first["refreshToken"])["jti"] != decode(second["refreshToken"])["jti"]
    assert decode(first["accessToken"])["jti"] != decode(second["accessToken"])["jti"]


def test_login_wrong_secret(api_key):
    key, secret = api_key

    response = login(APIClient(), key.access_key_id, secret + "x")

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID
    assert response["X-Request-Id"]


def test_login_empty_secret(api_key):
    key, _ = api_key

    response = login(APIClient(), key.access_key_id, "")

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_login_another_keys_secret(api_key, other_partner):
    key, _ = api_key
    _, other_secret = accounts_services.api_key_create(partner=other_partner)

    response = login(APIClient(), key.access_key_id, other_secret)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_login_unknown_key_id(api_key):
    _, secret = api_key

    response = login(APIClient(), "AKDOESNOTEXIST000000", secret)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_login_revoked_key(api_key):
    key, secret = api_key
    accounts_services.api_key_revoke(key=key)

    response = login(APIClient(), key.access_key_id, secret)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_revoking_one_key_leaves_the_partners_other_keys_working(api_key, partner):
    key, _ = api_key
    other_key, other_secret = accounts_services.api_key_create(partner=partner)
    accounts_services.api_key_revoke(key=key)

    response = login(APIClient(), other_key.access_key_id, other_secret)

    assert response.status_code == 200
    assert_three_valid_tokens(response.json())


def test_login_inactive_partner(api_key, partner):
    key, secret = api_key
    partner.is_active = False
    partner.save(update_fields=["is_active"])

    response = login(APIClient(), key.access_key_id, secret)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing-header"),
        pytest.param("", id="empty-header"),
        pytest.param("Basic", id="scheme-only"),
        pytest.param("Basic    ", id="scheme-and-blanks"),
        pytest.param("Basic !!!not*base64???", id="not-base64"),
        pytest.param("Basic QUJD=x", id="bad-base64-padding"),
        pytest.param(basic("no-colon-in-here"), id="no-colon"),
        pytest.param(basic(":"), id="empty-id-and-secret"),
        pytest.param("Basic " + base64.b64encode(b"\xff\xfe:\xfa").decode(), id="not-utf8"),
        pytest.param("Token abc", id="wrong-scheme"),
    ],
)
def test_login_malformed_authorization(api_key, authorization):
    response = post_login(authorization)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID
    assert response["X-Request-Id"]


def test_login_with_bearer_scheme_and_valid_basic_credentials_is_refused(api_key):
    key, secret = api_key
    credentials = base64.b64encode(f"{key.access_key_id}:{secret}".encode()).decode()

    response = post_login(f"Bearer {credentials}")

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_login_with_the_secret_as_key_id_is_refused(api_key):
    """The secret alone (as the user name) is not a credential."""
    _, secret = api_key

    response = post_login(basic(f"{secret}:{secret}"))

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


# --- Refresh (rotation + blacklist) -------------------------------------------------------------


def test_refresh_returns_a_new_set_and_the_old_refresh_token_then_fails(tokens, link):
    response = refresh(tokens["refreshToken"])

    assert response.status_code == 200
    new = response.json()
    assert_three_valid_tokens(new)
    for name in TOKEN_KEYS:
        assert new[name] != tokens[name]
    assert decode(new["refreshToken"])["jti"] != decode(tokens["refreshToken"])["jti"]
    assert get_account(new["accessToken"]).status_code == 200
    # The old refresh token is blacklisted.
    assert BlacklistedToken.objects.filter(token__jti=decode(tokens["refreshToken"])["jti"]).exists()

    replay = refresh(tokens["refreshToken"])

    assert replay.status_code == 401
    assert replay.json() == AUTHORIZATION_INVALID


def test_refresh_chain_each_refresh_token_works_exactly_once(tokens):
    current = tokens["refreshToken"]
    used = []
    for _ in range(3):
        response = refresh(current)
        assert response.status_code == 200
        used.append(current)
        current = response.json()["refreshToken"]

    for old in used:
        response = refresh(old)
        assert response.status_code == 401
        assert response.json() == AUTHORIZATION_INVALID
    assert refresh(current).status_code == 200


def test_refreshed_tokens_carry_the_same_partner(tokens):
    new = refresh(tokens["refreshToken"]).json()

    for name in TOKEN_KEYS:
        assert decode(new[name])["partner"] == decode(tokens[name])["partner"] == "PCS-001"
    assert decode(new["accessToken"])["kid"] == decode(tokens["accessToken"])["kid"]


@pytest.mark.parametrize("kind", ["accessToken", "idToken"])
def test_access_or_id_token_used_as_refresh_token_is_refused(tokens, kind):
    response = refresh(tokens[kind])

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID
    # The real refresh token is untouched by the failed attempt.
    assert refresh(tokens["refreshToken"]).status_code == 200


def test_refresh_token_after_its_key_is_revoked_is_refused(api_key, tokens):
    key, _ = api_key
    accounts_services.api_key_revoke(key=key)

    response = refresh(tokens["refreshToken"])

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID
    assert OutstandingToken.objects.count() == 1  # no new token was issued


def test_refresh_token_after_its_partner_is_deactivated_is_refused(partner, tokens):
    partner.is_active = False
    partner.save(update_fields=["is_active"])

    response = refresh(tokens["refreshToken"])

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing-header"),
        pytest.param("Bearer", id="scheme-only"),
        pytest.param("Bearer garbage", id="garbage"),
        pytest.param("Bearer a.b.c", id="three-garbage-segments"),
        pytest.param("Token abc", id="wrong-scheme"),
    ],
)
def test_refresh_malformed_authorization(tokens, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    response = APIClient().get(TOKENS_URL, **headers)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID
    assert response["X-Request-Id"]


def test_refresh_with_basic_credentials_is_refused(api_key):
    key, secret = api_key

    response = APIClient().get(TOKENS_URL, HTTP_AUTHORIZATION=basic(f"{key.access_key_id}:{secret}"))

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_expired_refresh_token_is_refused(tokens):
    payload = decode(tokens["refreshToken"])
    payload["exp"] = payload["iat"] - 1
    expired = jwt.encode(payload, settings.JWT_SIGNING_KEY, algorithm="HS256")

    response = refresh(expired)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_validly_signed_refresh_token_that_was_never_issued_is_refused(tokens):
    """A refresh token we never recorded (no OutstandingToken row) buys nothing."""
    payload = decode(tokens["refreshToken"])
    payload["jti"] = "0" * 32
    forged = jwt.encode(payload, settings.JWT_SIGNING_KEY, algorithm="HS256")

    response = refresh(forged)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_a_failure_while_issuing_leaves_the_refresh_token_unused(tokens, monkeypatch):
    """The blacklisting and the issuing are one DB transaction: a crash in between burns nothing."""

    def boom(**kwargs):
        raise RuntimeError("forced failure for the test")

    monkeypatch.setattr(accounts_services, "_partner_tokens", boom)
    response = APIClient().get(
        TOKENS_URL, HTTP_AUTHORIZATION=f"Bearer {tokens['refreshToken']}", HTTP_X_REQUEST_ID="req-refresh-500"
    )
    assert response.status_code == 500
    assert response.json() == {"error": "INTERNAL_ERROR", "args": ["req-refresh-500"]}
    assert not BlacklistedToken.objects.exists()
    monkeypatch.undo()

    retry = refresh(tokens["refreshToken"])

    assert retry.status_code == 200
    assert_three_valid_tokens(retry.json())


# --- JWT claims and signing ----------------------------------------------------------------------


def test_tokens_are_hs256_with_issuer_and_audience(tokens):
    for name in TOKEN_KEYS:
        header = jwt.get_unverified_header(tokens[name])
        assert header["alg"] == "HS256"
        payload = decode(tokens[name])
        assert payload["iss"] == settings.SIMPLE_JWT["ISSUER"]
        assert payload["aud"] == settings.SIMPLE_JWT["AUDIENCE"]
        assert payload["iss"]
        assert payload["aud"]
        assert payload["partner"] == "PCS-001"
        assert payload["jti"]
    assert settings.SIMPLE_JWT["ALGORITHM"] == "HS256"


def test_token_claims_name_the_partner_and_key_but_hold_no_secret(api_key, tokens):
    key, secret = api_key
    access = decode(tokens["accessToken"])
    refresh_claims = decode(tokens["refreshToken"])
    id_claims = decode(tokens["idToken"])

    assert access["api"] == refresh_claims["api"] == "andcharge"
    assert access["kid"] == refresh_claims["kid"] == key.access_key_id
    assert id_claims["name"] == "MSP Partner"
    assert "api" not in id_claims  # an id token never carries authorization
    for raw in tokens.values():
        assert secret not in json.dumps(unverified_payload(raw))
        assert key.secret_digest not in json.dumps(unverified_payload(raw))


def test_access_token_lifetime_is_short(tokens):
    access = decode(tokens["accessToken"])
    id_claims = decode(tokens["idToken"])
    refresh_claims = decode(tokens["refreshToken"])

    assert 0 < access["exp"] - access["iat"] <= 15 * 60
    assert 0 < id_claims["exp"] - id_claims["iat"] <= 15 * 60
    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] <= timedelta(minutes=15)
    assert refresh_claims["exp"] - refresh_claims["iat"] > access["exp"] - access["iat"]


def test_signing_key_is_its_own_setting(tokens):
    assert settings.JWT_SIGNING_KEY
    assert settings.JWT_SIGNING_KEY != settings.SECRET_KEY
    assert settings.SIMPLE_JWT["SIGNING_KEY"] == settings.JWT_SIGNING_KEY
    # The issued tokens verify with JWT_SIGNING_KEY and not with SECRET_KEY.
    decode(tokens["accessToken"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tokens["accessToken"], settings.SECRET_KEY, algorithms=["HS256"], audience=settings.SIMPLE_JWT["AUDIENCE"])


def test_access_token_signed_with_secret_key_is_refused(tokens, link):
    payload = decode(tokens["accessToken"])
    forged = jwt.encode(payload, settings.SECRET_KEY, algorithm="HS256")

    response = get_account(forged)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_refresh_token_signed_with_secret_key_is_refused(tokens):
    payload = decode(tokens["refreshToken"])
    forged = jwt.encode(payload, settings.SECRET_KEY, algorithm="HS256")

    response = refresh(forged)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID
    assert refresh(tokens["refreshToken"]).status_code == 200  # the forgery did not burn the real token


@pytest.mark.parametrize("kind", ["accessToken", "refreshToken"])
def test_alg_none_token_is_refused(tokens, link, kind):
    payload = decode(tokens[kind])
    unsigned = jwt.encode(payload, None, algorithm="none")
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"

    response = get_account(unsigned) if kind == "accessToken" else refresh(unsigned)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("kind", ["accessToken", "refreshToken"])
def test_other_hmac_algorithm_with_the_right_key_is_refused(tokens, link, kind):
    """The algorithm is pinned to HS256: even HS512 with the real key is refused."""
    payload = decode(tokens[kind])
    other_alg = jwt.encode(payload, settings.JWT_SIGNING_KEY, algorithm="HS512")

    response = get_account(other_alg) if kind == "accessToken" else refresh(other_alg)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


@pytest.mark.parametrize("kind", ["accessToken", "refreshToken"])
def test_tampered_payload_is_refused(tokens, link, kind):
    header, _, signature = tokens[kind].split(".")
    payload = decode(tokens[kind])
    payload["exp"] += 3600
    tampered = f"{header}.{b64url(json.dumps(payload).encode())}.{signature}"

    response = get_account(tampered) if kind == "accessToken" else refresh(tampered)

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_token_with_wrong_issuer_or_audience_is_refused(tokens, link):
    for claim in ("iss", "aud"):
        payload = decode(tokens["accessToken"])
        payload[claim] = "someone-else"
        forged = jwt.encode(payload, settings.JWT_SIGNING_KEY, algorithm="HS256")

        response = get_account(forged)

        assert response.status_code == 401, claim
        assert response.json() == AUTHORIZATION_INVALID


def test_token_without_the_andcharge_api_claim_is_refused(api_key, link):
    """A validly signed access token not minted for the &Charge API (no `api` claim) is refused."""
    key, _ = api_key
    token = AccessToken()
    token["partner"] = "PCS-001"
    token["kid"] = key.access_key_id

    response = get_account(str(token))

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_token_whose_partner_claim_disagrees_with_its_key_is_refused(api_key, other_partner):
    """Defence in depth: kid of PCS-001 with partner PCS-002 (validly signed) is refused."""
    key, _ = api_key
    token = AccessToken()
    token["api"] = "andcharge"
    token["partner"] = "PCS-002"
    token["kid"] = key.access_key_id

    response = APIClient().get("/v1/partners/PCS-002/accounts/anyone", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


def test_access_token_expiring_now_is_refused(tokens, link):
    token = AccessToken(tokens["accessToken"])
    token.set_exp(from_time=aware_utcnow(), lifetime=timedelta(0))

    response = get_account(str(token))

    assert response.status_code == 401
    assert response.json() == AUTHORIZATION_INVALID


# --- Concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_refresh_with_one_token_succeeds_exactly_once(live_server, tokens):
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def worker():
        session = requests.Session()
        barrier.wait()
        response = session.get(
            live_server.url + TOKENS_URL, headers={"Authorization": f"Bearer {tokens['refreshToken']}"}, timeout=30
        )
        with lock:
            results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == threads_count
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * (threads_count - 1)
    for status, body in results:
        if status == 401:
            assert body == AUTHORIZATION_INVALID
        else:
            assert_three_valid_tokens(body)
            winner = body
    # Only the winner's refresh token was issued; the old one is blacklisted once.
    assert OutstandingToken.objects.count() == 2
    assert BlacklistedToken.objects.count() == 1
    assert BlacklistedToken.objects.get().token.jti == decode(tokens["refreshToken"])["jti"]
    # The winner's refresh token works; the old one does not.
    assert (
        requests.get(
            live_server.url + TOKENS_URL, headers={"Authorization": f"Bearer {winner['refreshToken']}"}, timeout=30
        ).status_code
        == 200
    )
    assert (
        requests.get(
            live_server.url + TOKENS_URL, headers={"Authorization": f"Bearer {tokens['refreshToken']}"}, timeout=30
        ).status_code
        == 401
    )


def test_token_responses_are_never_cached(api_key, tokens):
    key, secret = api_key
    login_response = login(APIClient(), key.access_key_id, secret)
    refresh_response = APIClient().get(TOKENS_URL, HTTP_AUTHORIZATION=f"Bearer {tokens['refreshToken']}")

    for response in (login_response, refresh_response):
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"


def test_auth_scheme_is_case_insensitive(api_key, tokens):
    key, secret = api_key
    raw = base64.b64encode(f"{key.access_key_id}:{secret}".encode()).decode()

    assert APIClient().post(LOGIN_URL, HTTP_AUTHORIZATION=f"basic {raw}").status_code == 200
    response = APIClient().get(ACCOUNT_URL, HTTP_AUTHORIZATION=f"bearer {tokens['accessToken']}")
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "pcsUserId001"]}  # past auth
