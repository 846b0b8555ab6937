"""Staff roles (backoffice.roles): the `support` and `finance` groups exist after migrate with exactly their
permissions, `manage.py sync_roles` puts them back idempotently, and a staff user in neither group can log in
to the admin but change nothing."""

import json
from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from backoffice.tests.helpers import money_state, text
from gateways.models import GatewayBatchFile
from ledger.tests.factories import SessionPaymentFactory

READ_APPS = ("accounts", "ledger", "statements", "gateways", "wallet", "reconciliation", "webhooks", "backoffice")
SUPPORT_EXTRA = {
    "ledger.reverse_transaction",
    "gateways.refund_cardcharge",
    "accounts.send_password_reset_customer",
    "webhooks.change_webhookendpoint",
}
FINANCE_EXTRA = SUPPORT_EXTRA | {
    "ledger.reverse_any_transaction",
    "ledger.adjust_kilometers",
    "ledger.set_credit_limit",
    "wallet.resolve_lineitem",
    "gateways.retry_capture_cardcharge",
    "reconciliation.change_reconciliationfinding",
    "gateways.add_gatewaybatchfile",
    "ledger.add_gridintensity",
    "ledger.change_gridintensity",
    "django_celery_beat.view_periodictask",
    "django_celery_beat.change_periodictask",
    "django_celery_beat.view_crontabschedule",
    "django_celery_beat.view_intervalschedule",
}


def names(permissions) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions.select_related("content_type")}


def read_everything() -> set[str]:
    return names(Permission.objects.filter(content_type__app_label__in=READ_APPS, codename__startswith="view_"))


def group_permissions(name: str) -> set[str]:
    return names(Group.objects.get(name=name).permissions.all())


def test_the_groups_exist_after_migrate_with_exactly_their_permissions(db):
    support, finance = group_permissions("support"), group_permissions("finance")

    assert {"accounts.view_customer", "accounts.view_auditlog", "ledger.view_transaction", "gateways.view_cardcharge"} <= (
        read_everything()
    )
    assert support == read_everything() | SUPPORT_EXTRA
    assert finance == read_everything() | FINANCE_EXTRA
    # What tells the roles apart: support neither adjusts, retries captures, reverses any amount nor resolves.
    assert not support & {
        "ledger.adjust_kilometers",
        "ledger.set_credit_limit",
        "wallet.resolve_lineitem",
        "ledger.reverse_any_transaction",
        "gateways.retry_capture_cardcharge",
        "reconciliation.change_reconciliationfinding",
        "gateways.add_gatewaybatchfile",
        "ledger.change_gridintensity",
    }
    # Neither role manages partner credentials, staff users or ledger rows.
    for role in (support, finance):
        assert not role & {
            "accounts.add_partnerapikey",
            "accounts.change_partnerapikey",
            "accounts.change_user",
            "accounts.add_user",
            "auth.change_group",
            "ledger.add_transaction",
            "ledger.change_transaction",
            "ledger.delete_transaction",
            "accounts.delete_auditlog",
            "accounts.change_auditlog",
        }


def test_sync_roles_is_idempotent_and_repairs_the_groups(db):
    before = {name: (Group.objects.get(name=name).pk, group_permissions(name)) for name in ("support", "finance")}
    out = StringIO()

    call_command("sync_roles", "--json", stdout=out)
    call_command("sync_roles", "--json", stdout=out)

    after = {name: (Group.objects.get(name=name).pk, group_permissions(name)) for name in ("support", "finance")}
    assert after == before
    assert Group.objects.filter(name__in=("support", "finance")).count() == 2
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    expected_counts = {"support": len(before["support"][1]), "finance": len(before["finance"][1])}
    assert first == second == {"groups": expected_counts}

    # Someone edits a group by hand: a permission too many, one missing.
    support = Group.objects.get(name="support")
    support.permissions.add(Permission.objects.get(codename="adjust_kilometers"))
    support.permissions.remove(Permission.objects.get(codename="reverse_transaction"))

    call_command("sync_roles", stdout=StringIO())

    assert group_permissions("support") == before["support"][1]


def test_sync_roles_recreates_a_deleted_group(db):
    Group.objects.filter(name="finance").delete()

    call_command("sync_roles", stdout=StringIO())

    assert group_permissions("finance") == read_everything() | FINANCE_EXTRA


def test_staff_in_no_group_sees_the_admin_index_and_nothing_else(nogroup_client):
    response = nogroup_client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["app_list"] == []
    assert "You don’t have permission to view or edit anything." in text(response)


def test_staff_in_no_group_can_change_nothing(nogroup_client, nogroup_user, funded_link, partner, api_key):
    customer = funded_link.customer
    payment = SessionPaymentFactory(partner=partner, external_user_id="pcsUserId001", external_id="T-5001", kilometer=5)
    key, _ = api_key
    before = money_state()
    reason = {"reason": "I am not allowed to do this"}

    attempts = {
        "reverse": nogroup_client.post(reverse("admin:ledger_transaction_reverse", args=[payment.pk]), reason),
        "kilometers": nogroup_client.post(
            reverse("admin:accounts_customer_kilometers", args=[customer.pk]),
            {"purpose": "goodwill", "kilometers": "5", **reason},
        ),
        "api key": nogroup_client.post(reverse("admin:accounts_partner_create_api_key", args=[partner.pk]), reason),
        "revoke": nogroup_client.post(reverse("admin:accounts_partner_revoke_api_key", args=[partner.pk, key.pk]), reason),
        "batch file": nogroup_client.post(
            reverse("admin:gateways_gatewaybatchfile_add"),
            {"cycle_code": "C1", "csv_file": SimpleUploadedFile("b.csv", b"GatewayTransID,Amount,Type\r\n")},
        ),
        "user": nogroup_client.post(reverse("admin:accounts_user_change", args=[nogroup_user.pk]), {"is_superuser": "on"}),
        "group": nogroup_client.get(reverse("admin:auth_group_changelist")),
        "transactions": nogroup_client.get(reverse("admin:ledger_transaction_changelist")),
        "card charges": nogroup_client.get(reverse("admin:gateways_cardcharge_changelist")),
        "findings": nogroup_client.get(reverse("admin:reconciliation_reconciliationfinding_changelist")),
    }

    assert {name: response.status_code for name, response in attempts.items()} == dict.fromkeys(attempts, 403)
    assert money_state() == before
    assert not GatewayBatchFile.objects.exists()
    nogroup_user.refresh_from_db()
    assert nogroup_user.is_superuser is False


@pytest.mark.parametrize("role", ["support", "finance"])
def test_the_roles_cannot_make_themselves_superusers(request, role):
    user = request.getfixturevalue(f"{role}_user")
    client = request.getfixturevalue(f"{role}_client")

    response = client.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        {"username": user.username, "is_staff": "on", "is_superuser": "on", "is_active": "on"},
    )

    assert response.status_code == 403
    user.refresh_from_db()
    assert (user.is_superuser, sorted(user.groups.values_list("name", flat=True))) == (False, [role])
