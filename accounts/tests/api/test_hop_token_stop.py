"""A HOP token stops at once when its service account's credentials change (DESIGN §4; as a revoked &Charge key stops
its tokens): a new password, a deactivated account or partner, a withdrawn charge permission. The check costs one
indexed query per request and is never cached."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Partner, User
from accounts.tests.helpers import HOP_PASSWORD, bearer, hop_login
from gateways.models import CardCharge
from ledger.models import Transaction
from ledger.tests.helpers import cents

UNAUTHORIZED = {"data": {"code": 10005, "message": "Unauthorized", "errors": {"access": ["Unauthorized"]}}}
NEW_PASSWORD = "a-brand-new-service-password-2026"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _password_changed(account: User) -> None:
    account.set_password(NEW_PASSWORD)
    account.save()


def _password_set_again(account: User) -> None:
    account.set_password(HOP_PASSWORD)  # the same password, a new salt: still a new credential
    account.save()


def _account_deactivated(account: User) -> None:
    account.is_active = False
    account.save()


def _partner_deactivated(account: User) -> None:
    Partner.objects.filter(pk=account.partner_id).update(is_active=False)


def _permission_withdrawn(account: User) -> None:
    account.user_permissions.clear()


CHANGES = {
    "password-changed": _password_changed,
    "password-set-again": _password_set_again,
    "account-deactivated": _account_deactivated,
    "partner-deactivated": _partner_deactivated,
    "permission-withdrawn": _permission_withdrawn,
}


def _burst(http_server, jwt, requests_to_send):
    """Send (method, path, body) requests at once, each on its own connection; the responses in order."""
    barrier = threading.Barrier(len(requests_to_send))

    def fire(request):
        method, path, body = request
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.request(method, http_server + path, json=body, headers={"Authorization": f"Bearer {jwt}"}, timeout=60)

    with ThreadPoolExecutor(max_workers=len(requests_to_send)) as pool:
        return list(pool.map(fire, requests_to_send))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", list(CHANGES))
def test_a_token_stops_at_once_for_every_request_in_flight_after_the_change(
    http_server, gateway_settings, sandbox, service_account, hop_jwt, hop_customer, change
):
    charges = f"/api/v1/users/{hop_customer.pk}/charges"
    before = _burst(http_server, hop_jwt, [("POST", charges, {"charge": {"amount_in_cents": 500 + n}}) for n in range(4)])
    assert [r.status_code for r in before] == [201] * 4
    charged = sum(500 + n for n in range(4))
    assert cents(hop_customer) == charged

    CHANGES[change](service_account)
    after = _burst(
        http_server,
        hop_jwt,
        [("POST", charges, {"charge": {"amount_in_cents": 600 + n}}) for n in range(4)]
        + [("GET", f"/api/v1/users/{hop_customer.pk}/transactions", None)] * 2
        + [("GET", f"{charges}/{before[0].json()['data']['charge']['id']}", None)] * 2,
    )

    assert [r.status_code for r in after] == [401] * 8
    assert all(r.json() == UNAUTHORIZED for r in after)
    assert cents(hop_customer) == charged
    assert sorted(CardCharge.objects.values_list("amount_requested", flat=True)) == [500, 501, 502, 503]
    assert Transaction.objects.filter(customer=hop_customer).count() == 4
    assert len(sandbox.control.requests(request_type="004")) == 4


def test_the_new_password_logs_in_and_charges(gateway_settings, service_account, hop_jwt, hop_customer):
    _password_changed(service_account)

    old = bearer(hop_jwt).get(f"/api/v1/users/{hop_customer.pk}/transactions")
    logged_in = hop_login("hop@pcs.example", NEW_PASSWORD)
    charged = bearer(logged_in.json()["data"]["jwt"]).post(
        f"/api/v1/users/{hop_customer.pk}/charges", {"charge": {"amount_in_cents": 500}}, format="json"
    )

    assert (old.status_code, logged_in.status_code, charged.status_code) == (401, 201, 201)
    assert hop_login("hop@pcs.example", HOP_PASSWORD).status_code == 401
    assert cents(hop_customer) == 500


def test_a_token_without_the_credentials_stamp_is_refused(service_account, hop_jwt, hop_customer):
    token = AccessToken(hop_jwt)
    del token["cred"]

    response = bearer(str(token)).get(f"/api/v1/users/{hop_customer.pk}/transactions")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_authorizing_a_request_is_one_query(service_account, hop_jwt):
    client = bearer(hop_jwt)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/users/not-a-customer-id/charges/1")  # refused without looking anyone up
    statements = [query["sql"] for query in queries]

    assert response.status_code == 406
    assert len(statements) == 2  # the authorization, then the refusal kept for support
    assert '"accounts_user"' in statements[0] and '"accounts_partner"' in statements[0]
    assert statements[1].startswith('INSERT INTO "backoffice_refusedattempt"')
