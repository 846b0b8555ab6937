"""Helpers of the back-office (admin) tests.

People: a superuser, a `support` and a `finance` member (the groups that
accounts.roles syncs after migrate) and a staff user in no group, each with a logged-in Django test client.

Clients log in with `force_login`: django-axes sits on the authentication backends and needs a request, which
`client.login()` does not give (the axes test posts to /admin/login/ instead). Users get no usable password
unless asked (password hashing is slow and tested elsewhere).

Pages: the ids a changelist shows, a page's text (HTML entities decoded) and the messages it shows.
State: `money_state()`, everything a refused staff action must leave as it was.
"""

import html

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import AuditLog, PartnerApiKey, User
from backoffice.roles import FINANCE, SUPPORT
from gateways.models import CardCharge
from ledger.models import Account, AccountKind, Entry, Transaction


def staff_member(username: str, *groups: str, superuser: bool = False, password: str | None = None) -> User:
    """A staff user (is_staff) in exactly `groups`, which must exist."""
    user = User.objects.create_user(
        username=username,
        email=f"{username}@chargepay.example",
        password=password,
        is_staff=True,
        is_superuser=superuser,
    )
    found = list(Group.objects.filter(name__in=groups))
    assert len(found) == len(groups), f"groups missing: {set(groups) - {g.name for g in found}}"
    user.groups.set(found)
    return user


def shown_ids(response) -> list[int]:
    """The primary keys of the rows a changelist page shows, in order."""
    assert response.status_code == 200, response.status_code
    return [obj.pk for obj in response.context["cl"].result_list]


def text(response) -> str:
    return html.unescape(response.content.decode())


def shown_messages(response) -> list[str]:
    """The messages a rendered admin page shows (django.contrib.messages)."""
    return [str(message) for message in response.context["messages"]]


def money_state() -> dict:
    """Every ledger transaction (with its status), the entry count, every wallet balance, every card charge
    (status, debt, refund transaction), every API key (revoked or not) and the audit log's size."""
    return {
        "transactions": list(Transaction.objects.order_by("pk").values_list("pk", "kind", "status")),
        "entries": Entry.objects.count(),
        "wallets": dict(Account.objects.filter(kind=AccountKind.WALLET).values_list("pk", "balance")),
        "charges": list(CardCharge.objects.order_by("pk").values_list("pk", "status", "debt_cents", "refund_ledger_transaction")),
        "api_keys": list(PartnerApiKey.objects.order_by("pk").values_list("pk", "revoked_at")),
        "audit_records": AuditLog.objects.count(),
    }


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser(db) -> User:
    return staff_member("root.admin", superuser=True)


@pytest.fixture
def support_user(db) -> User:
    return staff_member("sam.support", SUPPORT)


@pytest.fixture
def finance_user(db) -> User:
    return staff_member("fay.finance", FINANCE)


@pytest.fixture
def nogroup_user(db) -> User:
    """Staff, so the admin lets them in, but in neither role."""
    return staff_member("nora.nogroup")


@pytest.fixture
def superuser_client(superuser) -> Client:
    return logged_in(superuser)


@pytest.fixture
def support_client(support_user) -> Client:
    return logged_in(support_user)


@pytest.fixture
def finance_client(finance_user) -> Client:
    return logged_in(finance_user)


@pytest.fixture
def nogroup_client(nogroup_user) -> Client:
    return logged_in(nogroup_user)
