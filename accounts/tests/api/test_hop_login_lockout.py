"""The HOP log-in against guessing (as the admin's: django-axes, AXES_FAILURE_LIMIT failures for one account from
one address lock that pair out, even with the right password), and the HOP rate limit per service account.

Both answer in HOP's envelope: 429 10018 (locked out) and 429 10017 (rate limit), each with `Retry-After`.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from axes.models import AccessAttempt
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.api.hop import ServiceAccountRateThrottle
from accounts.models import User
from accounts.tests.factories import ServiceAccountFactory
from accounts.tests.helpers import HOP_PASSWORD, bearer
from gateways.models import CardCharge
from ledger.models import Transaction
from ledger.tests.helpers import cents

TOKEN_URL = "/api/v1/auth/token"
UNAUTHORIZED = {"data": {"code": 10005, "message": "Unauthorized", "errors": {"access": ["Unauthorized"]}}}
LOCKED_OUT = {
    "data": {
        "code": 10018,
        "message": "Too many failed log-ins",
        "errors": {"auth": ["locked out after too many failed log-ins"]},
    }
}
TOO_MANY = {"data": {"code": 10017, "message": "Too many requests", "errors": {"request": ["too many requests"]}}}
COOL_OFF_SECONDS = "1800"  # AXES_COOLOFF_HOURS 0.5


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(password: str, email: str = "hop@pcs.example", address: str = "127.0.0.1"):
    return APIClient().post(TOKEN_URL, {"auth": {"email": email, "password": password}}, format="json", REMOTE_ADDR=address)


def test_the_lockout_is_the_admins(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_five_failures_lock_the_account_out_from_that_address_even_with_the_right_password(service_account):
    failures = [log_in(f"wrong-{n}") for n in range(5)]
    right = log_in(HOP_PASSWORD)
    cased = log_in(HOP_PASSWORD, email="  HOP@pcs.EXAMPLE ")  # the same account, however it is spelled

    assert [r.status_code for r in failures] == [401, 401, 401, 401, 429]
    assert all(r.json() == UNAUTHORIZED for r in failures[:4])
    for response in (failures[4], right, cased):
        assert (response.status_code, response.json()) == (429, LOCKED_OUT)
        assert response["Retry-After"] == COOL_OFF_SECONDS
        assert "jwt" not in response.content.decode()
    assert "Content-Type" in right and right["Content-Type"] == "application/json"  # HOP's envelope, not the admin's page


def test_the_lockout_holds_for_that_pair_only(service_account, partner):
    ServiceAccountFactory(partner=partner, email="colleague@pcs.example", password=HOP_PASSWORD)
    for n in range(5):
        log_in(f"wrong-{n}")

    assert log_in(HOP_PASSWORD).status_code == 429
    assert log_in(HOP_PASSWORD, address="10.0.0.7").status_code == 201  # the same account from another address
    assert log_in(HOP_PASSWORD, email="colleague@pcs.example").status_code == 201  # another account, same address


def test_four_failures_do_not_lock_and_a_success_clears_them(service_account):
    first = [log_in(f"wrong-{n}") for n in range(4)] + [log_in(HOP_PASSWORD)]
    again = [log_in(f"wrong-again-{n}") for n in range(4)] + [log_in(HOP_PASSWORD)]

    assert [r.status_code for r in first] == [401, 401, 401, 401, 201]
    assert [r.status_code for r in again] == [401, 401, 401, 401, 201]


def test_unknown_accounts_lock_out_alike(db):
    # The same answers whether the e-mail exists: the lockout does not tell which accounts exist.
    responses = [log_in(f"wrong-{n}", email="nobody@pcs.example") for n in range(6)]

    assert [r.status_code for r in responses] == [401, 401, 401, 401, 429, 429]


def test_a_lockout_does_not_stop_tokens_already_issued(service_account, hop_jwt, hop_customer):
    for n in range(5):
        log_in(f"wrong-{n}")

    response = bearer(hop_jwt).get(f"/api/v1/users/{hop_customer.pk}/transactions")

    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_concurrent_guesses_gets_no_more_password_checks_than_the_limit(http_server, service_account, monkeypatch):
    checks, lock = [], threading.Lock()
    check_password = User.check_password

    def counted(user, raw):
        with lock:
            checks.append(raw)
        return check_password(user, raw)

    monkeypatch.setattr(User, "check_password", counted)
    barrier = threading.Barrier(12)  # a burst of 12: PostgreSQL's connections are shared

    def guess(n):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            body = {"auth": {"email": "hop@pcs.example", "password": f"guess-{n}"}}
            return session.post(http_server + TOKEN_URL, json=body, timeout=60)

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(guess, range(12)))
    right = requests.post(
        http_server + TOKEN_URL, json={"auth": {"email": "hop@pcs.example", "password": HOP_PASSWORD}}, timeout=60
    )

    assert sorted(r.status_code for r in responses) == [401] * 4 + [429] * 8
    assert all(r.json() == LOCKED_OUT for r in responses if r.status_code == 429)
    assert len(checks) == 5  # the limit, whatever the concurrency
    assert (right.status_code, right.json()) == (429, LOCKED_OUT)
    assert HOP_PASSWORD not in checks
    attempt = AccessAttempt.objects.get(username="hop@pcs.example", ip_address="127.0.0.1")
    assert attempt.failures_since_start == 13  # every attempt recorded, each restarting the cool-off, as the admin


# --- the rate limit per service account ---------------------------------------------------------------------


@pytest.fixture
def limited(monkeypatch):
    monkeypatch.setattr(ServiceAccountRateThrottle, "THROTTLE_RATES", {"service_account": "3/min"})
    cache.clear()


def test_the_rate_limit_is_per_service_account_in_hops_envelope(limited, partner, hop_api, hop_customer):
    ServiceAccountFactory(partner=partner, email="colleague@pcs.example", password=HOP_PASSWORD)
    colleague = bearer(log_in(HOP_PASSWORD, email="colleague@pcs.example").json()["data"]["jwt"])
    url = f"/api/v1/users/{hop_customer.pk}/transactions"

    mine = [hop_api.get(url) for _ in range(5)]
    theirs = colleague.get(url)

    assert [r.status_code for r in mine] == [200, 200, 200, 429, 429]
    assert mine[3].json() == TOO_MANY
    assert 0 < int(mine[3]["Retry-After"]) <= 60
    assert theirs.status_code == 200  # the same partner's other account has its own budget


def test_a_stopped_token_is_401_not_429(limited, service_account, hop_jwt, hop_customer):
    User.objects.filter(pk=service_account.pk).update(is_active=False)

    responses = [bearer(hop_jwt).get(f"/api/v1/users/{hop_customer.pk}/transactions") for _ in range(5)]

    assert [r.status_code for r in responses] == [401] * 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_charges_over_the_limit_are_refused_and_charge_nothing(
    http_server, gateway_settings, sandbox, limited, monkeypatch, hop_jwt, hop_customer
):
    monkeypatch.setattr(ServiceAccountRateThrottle, "THROTTLE_RATES", {"service_account": "4/min"})
    barrier = threading.Barrier(10)

    def charge(n):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(
                f"{http_server}/api/v1/users/{hop_customer.pk}/charges",
                json={"charge": {"amount_in_cents": 500 + n}},
                headers={"Authorization": f"Bearer {hop_jwt}"},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(charge, range(10)))

    created = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code == 429]
    assert (len(created), len(refused)) == (4, 6)
    assert all(r.json() == TOO_MANY and int(r.headers["Retry-After"]) > 0 for r in refused)
    charged = sum(r.json()["data"]["charge"]["amount_in_cents"] for r in created)
    assert cents(hop_customer) == charged
    assert CardCharge.objects.count() == 4
    assert Transaction.objects.filter(customer=hop_customer).count() == 4
    assert len(sandbox.control.requests(request_type="004")) == 4
