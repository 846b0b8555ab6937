"""Helpers of the back-office (admin) tests.

People: `staff_member()` makes a staff user in role groups; `logged_in()` gives a Django test client logged in
as them, with `force_login`: django-axes sits on the authentication backends and needs a request, which
`client.login()` does not give (the axes test posts to /admin/login/ instead). Users get no usable password
unless asked (password hashing is slow and tested elsewhere).

Pages: the ids a changelist shows, a page's text (HTML entities decoded) and the messages it shows.
State: `money_state()`, everything a refused staff action must leave as it was.
"""

import html

from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import AuditLog, PartnerApiKey, User
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
