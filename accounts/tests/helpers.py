"""Helpers of the accounts tests that other apps' tests use too: the two APIs' logins, a client carrying a bearer
token, and the check of a staff action's audit record."""

import base64

from rest_framework.test import APIClient

from accounts.models import AuditLog

HOP_PASSWORD = "service-account-password-2026"  # the password of the `service_account` fixture


def login(client: APIClient, access_key_id: str, secret: str):
    """&Charge partner login: Basic credentials of an API key."""
    raw = base64.b64encode(f"{access_key_id}:{secret}".encode()).decode()
    return client.post("/public/v1/login/partner/token", HTTP_AUTHORIZATION=f"Basic {raw}")


def hop_login(email: str, password: str):
    """HOP service-account login."""
    return APIClient().post("/api/v1/auth/token", {"auth": {"email": email, "password": password}}, format="json")


def bearer(raw: str) -> APIClient:
    """A client that sends `Authorization: Bearer <raw>` with every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def assert_audited(*, among_others: bool = False, **expected) -> AuditLog:
    """Assert that the staff action left its one audit record with exactly the `expected` values; return the record.

    There must be exactly one audit record; with `among_others`, exactly one of `expected["action"]`, beside any
    records of other actions. `expected` names AuditLog fields (`actor`, `action`, `reason`, `object_type`,
    `object_id`, `customer_id`, `partner_id`, `balances_before`, `balances_after`, `detail`) or a path through
    one (`actor__username`); only the named fields are compared, each with ==.
    """
    if among_others:
        [record] = AuditLog.objects.filter(action=expected["action"])
    else:
        [record] = AuditLog.objects.all()
    actual = {name: _field(record, name) for name in expected}
    assert actual == expected
    return record


def _field(record: AuditLog, path: str):
    value = record
    for name in path.split("__"):
        value = getattr(value, name)
    return value
