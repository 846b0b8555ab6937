"""HOP authentication (DESIGN §4): service-account login, and who may charge whom.

Every refusal is checked against a real gateway sandbox: nothing may reach the gateway or move money.
"""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.utils import aware_utcnow

from accounts import services as accounts_services
from accounts.models import Partner, User
from accounts.tests.factories import PartnerLinkFactory, ServiceAccountFactory
from accounts.tests.helpers import HOP_PASSWORD, bearer, hop_login
from gateways.bridgecomm import protocol
from gateways.models import CardCharge
from gateways.sandbox import SandboxServer
from gateways.tests.factories import card_holder
from ledger.models import Transaction
from ledger.tests.helpers import cents

TOKEN_URL = "/api/v1/auth/token"
UNAUTHORIZED = {"data": {"code": 10005, "message": "Unauthorized", "errors": {"access": ["Unauthorized"]}}}
USER_NOT_FOUND = {"data": {"code": 10004, "message": "Record not found", "errors": {"user": ["not found"]}}}
CHARGE = {"charge": {"amount_in_cents": "500", "payment_method": {"token": "12345", "expires_at": "2031-01-31"}}}


@pytest.fixture
def sandbox(settings):
    """A real gateway sandbox the product is pointed at, so a call that should not happen would be seen."""
    server = SandboxServer("127.0.0.1", 0).start()
    settings.GATEWAY_URL = server.url
    settings.GATEWAY_USER = protocol.SANDBOX_USER
    settings.GATEWAY_PASSWORD = protocol.SANDBOX_PASSWORD
    settings.GATEWAY_TIMEOUT_SECONDS = 5.0
    try:
        yield server
    finally:
        server.stop()


def charges_url(customer) -> str:
    return f"/api/v1/users/{customer.pk}/charges"


def assert_nothing_moved(sandbox, customer):
    assert sandbox.control.requests() == []
    assert not CardCharge.objects.exists()
    assert not Transaction.objects.filter(customer=customer).exists()
    assert cents(customer) == 0
    assert not customer.payment_methods.filter(token="12345").exists()


# --- POST /api/v1/auth/token ----------------------------------------------------------------------------------


def test_service_account_logs_in(service_account, hop_customer, sandbox):
    response = hop_login("hop@pcs.example", HOP_PASSWORD)

    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == ["data"]
    assert list(body["data"]) == ["jwt", "user"]
    assert body["data"]["user"] == {"id": service_account.pk, "email": "hop@pcs.example", "partner": "PCS-001"}
    assert response["Cache-Control"] == "no-store"
    claims = jwt.decode(
        body["data"]["jwt"],
        django_settings.JWT_SIGNING_KEY,
        algorithms=["HS256"],
        issuer=django_settings.SIMPLE_JWT["ISSUER"],
        audience=django_settings.SIMPLE_JWT["AUDIENCE"],
    )
    assert claims["api"] == "hop"
    assert str(claims["sub"]) == str(service_account.pk)
    assert claims["token_type"] == "access"
    assert 0 < claims["exp"] - claims["iat"] <= django_settings.HOP_JWT_MINUTES * 60
    # and the token charges
    charged = bearer(body["data"]["jwt"]).post(charges_url(hop_customer), CHARGE, format="json")
    assert charged.status_code == 201, charged.content
    assert cents(hop_customer) == 500


def test_login_email_is_case_insensitive(service_account):
    response = hop_login("  HOP@PCS.Example ", HOP_PASSWORD)

    assert response.status_code == 201
    assert response.json()["data"]["user"]["id"] == service_account.pk


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("hop@pcs.example", "wrong-password"),
        ("hop@pcs.example", HOP_PASSWORD.upper()),
        ("hop@pcs.example", ""),
        ("nobody@pcs.example", HOP_PASSWORD),
        ("", HOP_PASSWORD),
        ("hop@pcs", HOP_PASSWORD),
    ],
)
def test_bad_credentials_are_401(service_account, email, password):
    response = hop_login(email, password)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert "jwt" not in response.content.decode()


def test_a_staff_user_without_a_partner_cannot_log_in(db):
    User.objects.create_user(
        username="staff", email="staff@chargepay.example", password=HOP_PASSWORD, is_staff=True, is_superuser=True
    )

    response = hop_login("staff@chargepay.example", HOP_PASSWORD)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_an_inactive_service_account_cannot_log_in(service_account):
    User.objects.filter(pk=service_account.pk).update(is_active=False)

    response = hop_login("hop@pcs.example", HOP_PASSWORD)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_a_service_account_of_an_inactive_partner_cannot_log_in(service_account, partner):
    Partner.objects.filter(pk=partner.pk).update(is_active=False)

    response = hop_login("hop@pcs.example", HOP_PASSWORD)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "hop@pcs.example", "password": HOP_PASSWORD},
        {"auth": None},
        {"auth": "hop@pcs.example"},
        [],
    ],
    ids=repr,
)
def test_missing_auth_object_is_422_10013(service_account, body):
    """Without an auth object; a missing or unusable email or password is a wrong credential (chargepay/tests/test_edge.py)."""
    response = APIClient().post(TOKEN_URL, body, format="json")

    assert response.status_code == 422
    assert response.json() == {
        "data": {
            "code": 10013,
            "message": "Param is missing or the value is empty",
            "errors": {"auth": ["email and password are required"]},
        }
    }


def test_unparsable_login_body_is_422_10012(service_account):
    response = APIClient().post(TOKEN_URL, b'{"auth": {', content_type="application/json")

    assert response.status_code == 422
    assert response.json() == {
        "data": {"code": 10012, "message": "Invalid Format", "errors": {"request": ["Invalid JSON Format"]}}
    }


# --- who may call the charge endpoints ----------------------------------------------------------------------


def _hop_token_for(user, *, expired: bool = False) -> str:
    token = AccessToken.for_user(user)
    token["api"] = "hop"
    if expired:
        token.set_exp(from_time=aware_utcnow() - timedelta(hours=2), lifetime=timedelta(minutes=1))
    return str(token)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer two tokens",
        "Token abc",
        "Basic aG9wQHBjcy5leGFtcGxlOnNlcnZpY2UtYWNjb3VudC1wYXNzd29yZC0yMDI2",
    ],
    ids=repr,
)
def test_missing_or_garbage_token_is_401(hop_customer, sandbox, authorization):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.post(charges_url(hop_customer), CHARGE, format="json")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert_nothing_moved(sandbox, hop_customer)


@pytest.mark.parametrize("path", ["charges", "charge", "transactions", "rfid"])
def test_every_hop_route_needs_a_token(hop_customer, sandbox, path):
    accounts_services.rfid_token_add(customer=hop_customer, token="rfid-1")
    url = {
        "charges": f"/api/v1/users/{hop_customer.pk}/charges",
        "charge": f"/api/v1/users/{hop_customer.pk}/charges/1",
        "transactions": f"/api/v1/users/{hop_customer.pk}/transactions",
        "rfid": "/api/v1/rfid/rfid-1/charges",
    }[path]
    method = "get" if path in ("charge", "transactions") else "post"

    response = getattr(APIClient(), method)(url, CHARGE, format="json")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert_nothing_moved(sandbox, hop_customer)


def test_andcharge_access_token_is_refused_on_hop(tokens, hop_customer, sandbox):
    for name in ("accessToken", "refreshToken", "idToken"):
        response = bearer(tokens[name]).post(charges_url(hop_customer), CHARGE, format="json")
        assert response.status_code == 401, name
        assert response.json() == UNAUTHORIZED, name
    assert_nothing_moved(sandbox, hop_customer)


def test_hop_token_is_refused_on_andcharge(hop_jwt, partner):
    response = bearer(hop_jwt).get("/v1/partners/PCS-001/accounts/pcsUserId001")

    assert response.status_code == 401
    assert response.json() == {"error": "AUTHORIZATION_INVALID", "args": []}


def test_a_token_signed_with_another_key_is_refused(service_account, hop_jwt, hop_customer, sandbox):
    claims = jwt.decode(hop_jwt, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-signing-key-0123456789abcdef", algorithm="HS256")
    unsigned = jwt.encode(claims, key=None, algorithm="none")

    for raw in (forged, unsigned):
        response = bearer(raw).post(charges_url(hop_customer), CHARGE, format="json")
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED
    assert_nothing_moved(sandbox, hop_customer)


def test_an_expired_hop_token_is_refused(service_account, hop_customer, sandbox):
    response = bearer(_hop_token_for(service_account, expired=True)).post(charges_url(hop_customer), CHARGE, format="json")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert_nothing_moved(sandbox, hop_customer)


def test_a_staff_users_token_is_refused(db, hop_customer, sandbox):
    staff = User.objects.create_user(username="staff", email="staff@chargepay.example", password=HOP_PASSWORD, is_superuser=True)

    response = bearer(_hop_token_for(staff)).post(charges_url(hop_customer), CHARGE, format="json")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert_nothing_moved(sandbox, hop_customer)


def test_a_token_stops_working_when_the_account_is_deactivated(service_account, hop_jwt, hop_customer, sandbox):
    User.objects.filter(pk=service_account.pk).update(is_active=False)

    response = bearer(hop_jwt).post(charges_url(hop_customer), CHARGE, format="json")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert_nothing_moved(sandbox, hop_customer)


def test_a_token_stops_working_when_the_partner_is_deactivated(partner, hop_jwt, hop_customer, sandbox):
    Partner.objects.filter(pk=partner.pk).update(is_active=False)

    response = bearer(hop_jwt).post(charges_url(hop_customer), CHARGE, format="json")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert_nothing_moved(sandbox, hop_customer)


def test_a_service_account_without_the_charge_permission_is_401(partner, hop_customer, sandbox):
    account = ServiceAccountFactory(partner=partner, email="readonly@pcs.example", password=HOP_PASSWORD)
    account.user_permissions.clear()
    logged_in = hop_login("readonly@pcs.example", HOP_PASSWORD)
    assert logged_in.status_code == 201
    client = bearer(logged_in.json()["data"]["jwt"])

    responses = [
        client.post(charges_url(hop_customer), CHARGE, format="json"),
        client.get(f"/api/v1/users/{hop_customer.pk}/transactions"),
    ]

    assert [r.status_code for r in responses] == [401, 401]
    assert all(r.json() == UNAUTHORIZED for r in responses)
    assert_nothing_moved(sandbox, hop_customer)


def test_the_permission_is_checked_on_every_request(service_account, hop_jwt, hop_customer, sandbox):
    service_account.user_permissions.clear()

    response = bearer(hop_jwt).post(charges_url(hop_customer), CHARGE, format="json")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert_nothing_moved(sandbox, hop_customer)


def test_another_partners_service_account_cannot_charge_pcs001s_customer(other_partner, hop_customer, sandbox):
    ServiceAccountFactory(partner=other_partner, email="hop@other.example", password=HOP_PASSWORD)
    client = bearer(hop_login("hop@other.example", HOP_PASSWORD).json()["data"]["jwt"])
    accounts_services.rfid_token_add(customer=hop_customer, token="rfid-1")

    responses = [
        client.post(charges_url(hop_customer), CHARGE, format="json"),
        client.post("/api/v1/rfid/rfid-1/charges", CHARGE, format="json"),
        client.get(f"/api/v1/users/{hop_customer.pk}/transactions"),
    ]

    assert [r.status_code for r in responses] == [406, 406, 406]
    assert all(r.json() == USER_NOT_FOUND for r in responses)
    assert_nothing_moved(sandbox, hop_customer)


def test_a_customer_linked_to_both_partners_can_be_charged_by_both_each_with_its_own_card(
    other_partner, hop_api, hop_customer, sandbox
):
    PartnerLinkFactory(partner=other_partner, customer=hop_customer, external_user_id="sharedUser")
    ServiceAccountFactory(partner=other_partner, email="hop@other.example", password=HOP_PASSWORD)
    other = bearer(hop_login("hop@other.example", HOP_PASSWORD).json()["data"]["jwt"])

    mine = hop_api.post(charges_url(hop_customer), {"charge": {"amount_in_cents": 500}}, format="json")
    theirs = other.post(charges_url(hop_customer), CHARGE, format="json")  # PCS-001's card is not PCS-002's to use

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert cents(hop_customer) == 1000
    assert sorted(CardCharge.objects.values_list("partner__code", "amount_requested", "payment_method__token")) == [
        ("PCS-001", 500, "1000000074340019"),
        ("PCS-002", 500, "12345"),
    ]


def test_a_service_account_cannot_charge_a_customer_with_only_a_pending_link(partner, hop_api, sandbox):
    customer = card_holder(partner=partner, external_user_id="pendingUser", confirmed=False, token="6000000000000007")

    response = hop_api.post(charges_url(customer), CHARGE, format="json")

    assert response.status_code == 406
    assert response.json() == USER_NOT_FOUND
    assert_nothing_moved(sandbox, customer)
