"""The audit log of staff actions: who, when, what, why and the balances before and after; listed, searched and
filtered in the back-office, never added, changed or deleted there (superusers included) and, on PostgreSQL,
never updated or deleted at all (a trigger, migration accounts 0003)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.audit import audit_record
from accounts.models import AuditAction, AuditLog
from accounts.tests.factories import CustomerFactory, PartnerFactory, PartnerLinkFactory
from backoffice.tests.helpers import shown_ids, staff_member, text
from ledger import services as ledger_services
from ledger.tests.factories import SessionPaymentFactory

CHANGELIST = "admin:accounts_auditlog_changelist"


@pytest.fixture
def records(support_user, finance_user, superuser, partner, other_partner):
    """Three staff actions: finance grants Alice km, support reverses Alice's payment, a superuser creates a key for
    PCS-002. Returned newest first, as the list shows them."""
    alice = CustomerFactory(email="alice@example.com", name="Alice Liddell")
    PartnerLinkFactory(partner=partner, customer=alice, external_user_id="aliceUser")
    ledger_services.kilometers_change_by_staff(
        customer=alice, kilometer=50, goodwill=True, reason="welcome bonus", staff=finance_user
    )
    payment = SessionPaymentFactory(partner=partner, external_user_id="aliceUser", external_id="T-4001", kilometer=5)
    ledger_services.transaction_reverse_by_staff(transaction_id=payment.pk, staff=support_user, reason="charger fault")
    accounts_services.api_key_create_by_staff(partner=other_partner, label="backend", staff=superuser, reason="onboarding")
    grant, reverse_, key = AuditLog.objects.order_by("pk")
    return {"grant": grant, "reverse": reverse_, "key": key, "alice": alice, "payment": payment}


@pytest.mark.parametrize("role", ["superuser", "support", "finance"])
def test_the_log_lists_newest_first_for_each_role(request, role, records):
    client = request.getfixturevalue(f"{role}_client")

    response = client.get(reverse(CHANGELIST))

    assert shown_ids(response) == [records["key"].pk, records["reverse"].pk, records["grant"].pk]
    page = text(response)
    assert "charger fault" in page and "welcome bonus" in page and "onboarding" in page
    # The reversal's row with the balances before and after.
    assert (
        '<td class="field-reason">charger fault</td><td class="field-before">45 km · $0.00</td>'
        '<td class="field-after">50 km · $0.00</td>'
    ) in page


def test_the_log_is_refused_to_staff_in_no_group(nogroup_client, records):
    assert nogroup_client.get(reverse(CHANGELIST)).status_code == 403
    assert nogroup_client.get(reverse("admin:accounts_auditlog_change", args=[records["grant"].pk])).status_code == 403


def test_a_record_shows_who_when_what_why_and_the_balances(support_client, records):
    record = records["reverse"]

    response = support_client.get(reverse("admin:accounts_auditlog_change", args=[record.pk]))

    assert response.status_code == 200
    page = text(response)
    assert "sam.support" in page and "charger fault" in page
    txn_url = reverse("admin:ledger_transaction_change", args=[records["payment"].pk])
    assert f'<a href="{txn_url}">ledger.transaction #{records["payment"].pk}</a>' in page
    assert '<div class="readonly">45 km · $0.00</div>' in page
    assert '<div class="readonly">50 km · $0.00</div>' in page
    assert 'name="_save"' not in page and "deletelink" not in page


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("sam.support", ["reverse"]),  # the staff member's username
        ("fay", ["grant"]),
        ("charger", ["reverse"]),  # the reason
        ("alice@example.com", ["reverse", "grant"]),  # the customer's email
        ("PCS-002", ["key"]),  # the partner's code
        ("nobody", []),
    ],
)
def test_search(superuser_client, records, term, expected):
    response = superuser_client.get(reverse(CHANGELIST), {"q": term})

    assert shown_ids(response) == [records[name].pk for name in expected]


def test_search_by_a_number_finds_the_object_or_the_customer(superuser_client, records):
    alice = records["alice"]
    key_id = records["key"].object_id

    by_object = superuser_client.get(reverse(CHANGELIST), {"q": key_id})
    by_customer = superuser_client.get(reverse(CHANGELIST), {"q": str(alice.pk)})

    def matching(term):  # every search field that can match a number
        return set(
            AuditLog.objects.filter(
                Q(object_id=term)
                | Q(customer__id=int(term))
                | Q(actor__username__icontains=term)
                | Q(reason__icontains=term)
                | Q(customer__email__icontains=term)
                | Q(partner__code__icontains=term)
            ).values_list("pk", flat=True)
        )

    assert records["key"].pk in set(shown_ids(by_object)) == matching(key_id)
    assert {records["grant"].pk, records["reverse"].pk} <= set(shown_ids(by_customer)) == matching(str(alice.pk))


def test_filters_by_action_actor_and_date(superuser_client, records, support_user):
    today = timezone.localdate()

    def shown(**params):
        return shown_ids(superuser_client.get(reverse(CHANGELIST), params))

    assert shown(action__exact=AuditAction.KILOMETERS_GRANT) == [records["grant"].pk]
    assert shown(action__exact=AuditAction.API_KEY_CREATE) == [records["key"].pk]
    assert shown(action__exact=AuditAction.CARD_CHARGE_REFUND) == []
    assert shown(actor__id__exact=support_user.pk) == [records["reverse"].pk]
    all_three = [records["key"].pk, records["reverse"].pk, records["grant"].pk]
    assert shown(created_at__range__gte=today.isoformat(), created_at__range__lte=today.isoformat()) == all_three
    assert shown(created_at__range__lte=(today - timedelta(days=1)).isoformat()) == []
    assert shown(created_at__range__gte=(today + timedelta(days=1)).isoformat()) == []


def test_nobody_adds_changes_or_deletes_a_record_in_admin_not_even_a_superuser(superuser_client, records):
    record = records["grant"]
    before = list(AuditLog.objects.order_by("pk").values())
    change_url = reverse("admin:accounts_auditlog_change", args=[record.pk])
    delete_url = reverse("admin:accounts_auditlog_delete", args=[record.pk])
    forged = {"action": "kilometers_grant", "reason": "rewritten", "object_type": "x", "object_id": "1"}

    responses = [
        superuser_client.get(reverse("admin:accounts_auditlog_add")),
        superuser_client.post(reverse("admin:accounts_auditlog_add"), forged),
        superuser_client.post(change_url, forged),
        superuser_client.get(delete_url),
        superuser_client.post(delete_url, {"post": "yes"}),
    ]
    bulk = superuser_client.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [record.pk], "index": "0", "post": "yes"}
    )
    listing = superuser_client.get(reverse(CHANGELIST))

    assert [r.status_code for r in responses] == [403, 403, 403, 403, 403]
    assert bulk.status_code == 200  # no actions at all: the list is shown again, nothing deleted
    assert listing.context["action_form"] is None  # not even the bulk delete
    assert reverse("admin:accounts_auditlog_add") not in text(listing)
    assert list(AuditLog.objects.order_by("pk").values()) == before


# --- the database ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_postgresql_refuses_to_update_or_delete_an_audit_record():
    staff = staff_member("fay.finance", "finance")
    partner = PartnerFactory(code="PCS-777", name="Audited")
    with transaction.atomic():
        record = audit_record(actor=staff, action=AuditAction.API_KEY_REVOKE, reason="leaked", target=partner, partner=partner)
    kept = AuditLog.objects.filter(pk=record.pk).values().get()

    attempts = {
        "queryset update": lambda: AuditLog.objects.filter(pk=record.pk).update(reason="rewritten"),
        "queryset delete": lambda: AuditLog.objects.filter(pk=record.pk).delete(),
        "instance delete": lambda: AuditLog.objects.get(pk=record.pk).delete(),
        "instance save": lambda: AuditLog.objects.filter(pk=record.pk).first().save(),
    }
    for name, attempt in attempts.items():
        with pytest.raises(IntegrityError) as refused:
            attempt()
        cause = refused.value.__cause__
        assert (cause.sqlstate, cause.diag.constraint_name) == ("23514", "auditlog_immutable"), name

    assert AuditLog.objects.filter(pk=record.pk).values().get() == kept


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_record_without_a_reason():
    staff = staff_member("fay.finance", "finance")

    with pytest.raises(IntegrityError) as refused:
        AuditLog.objects.create(actor=staff, action=AuditAction.KILOMETERS_GRANT, reason="", object_type="x", object_id="1")

    assert refused.value.__cause__.diag.constraint_name == "audit_has_reason"
    assert AuditLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_audit_record_outside_a_transaction_raises():
    staff = staff_member("fay.finance", "finance")

    with pytest.raises(RuntimeError, match="must run inside the audited action's transaction"):
        audit_record(actor=staff, action=AuditAction.KILOMETERS_GRANT, reason="welcome", target=staff)

    assert AuditLog.objects.count() == 0


def test_audit_record_needs_a_reason(finance_user):
    with transaction.atomic(), pytest.raises(ValueError, match="needs a reason"):
        audit_record(actor=finance_user, action=AuditAction.KILOMETERS_GRANT, reason="  ", target=finance_user)

    assert AuditLog.objects.count() == 0
