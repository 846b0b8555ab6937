"""Standard admin edits (users, groups, beat schedules) are staff actions too: each leaves an audit record,
written in the same transaction as the edit."""

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import AuditAction, AuditLog, User
from accounts.tests.helpers import assert_audited

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client):
    user = User.objects.create_superuser(username="boss", email="boss@chargepay.example", password="unused-password-2026")
    client.force_login(user)
    return user


def test_adding_a_group_in_the_admin_is_audited(client, boss):
    response = client.post("/admin/auth/group/add/", {"name": "night-shift", "permissions": []})

    assert response.status_code == 302
    group = Group.objects.get(name="night-shift")
    record = assert_audited(
        among_others=True,
        action=AuditAction.ADMIN_EDIT,
        actor=boss,
        object_type="auth.group",
        object_id=str(group.pk),
        reason="added in the admin: Added.",
    )
    assert record.detail["object"] == "night-shift"


def test_changing_a_users_groups_in_the_admin_is_audited(client, boss):
    agent = User.objects.create_user(username="agent", password="unused-password-2026", is_staff=True)
    agent.date_joined = agent.date_joined.replace(microsecond=0)  # the form shows whole seconds
    agent.save()
    support = Group.objects.get(name="support")
    form = client.get(f"/admin/accounts/user/{agent.pk}/change/").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(
        {
            "username": "agent",
            "groups": [support.pk],
            "user_permissions": [],
            "date_joined_0": timezone.localtime(agent.date_joined).strftime("%Y-%m-%d"),
            "date_joined_1": timezone.localtime(agent.date_joined).strftime("%H:%M:%S"),
            "is_staff": "on",
            "is_active": "on",
        }
    )
    data.pop("last_login", None)
    data.pop("date_joined", None)

    response = client.post(f"/admin/accounts/user/{agent.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert list(agent.groups.values_list("name", flat=True)) == ["support"]
    record = assert_audited(
        among_others=True, action=AuditAction.ADMIN_EDIT, actor=boss, object_type="accounts.user", object_id=str(agent.pk)
    )
    assert record.reason.startswith("changed in the admin: Changed Groups")


def test_a_failed_admin_edit_leaves_no_audit_record(client, boss):
    response = client.post("/admin/auth/group/add/", {"name": ""})

    assert response.status_code == 200  # the form again, with its error
    assert not AuditLog.objects.exists()
