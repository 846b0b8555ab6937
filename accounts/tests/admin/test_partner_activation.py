"""Staff activate a registered (INITIAL) partner in the admin, with a reason, audited."""

import pytest
from django.urls import reverse

from accounts.models import AuditAction, Partner, PartnerStatus
from accounts.tests.helpers import assert_audited
from ledger import services as ledger_services


@pytest.fixture
def initial_partner(db):
    partner, _, _ = ledger_services.partner_register(code="GREEN-MILES", name="Green Miles", type="MSP")
    return partner


def activate_url(partner) -> str:
    return reverse("admin:accounts_partner_activate", args=[partner.pk])


def test_a_superuser_activates_a_partner_with_a_reason(superuser_client, superuser, initial_partner):
    page = superuser_client.get(reverse("admin:accounts_partner_change", args=[initial_partner.pk]))
    assert activate_url(initial_partner) in page.content.decode()
    assert superuser_client.get(activate_url(initial_partner)).status_code == 200
    # no reason: nothing happens
    superuser_client.post(activate_url(initial_partner), {"reason": " "})
    assert Partner.objects.get(pk=initial_partner.pk).status == PartnerStatus.INITIAL
    # when
    response = superuser_client.post(activate_url(initial_partner), {"reason": "contract signed"})
    # then
    assert response.status_code == 302
    partner = Partner.objects.get(pk=initial_partner.pk)
    assert partner.status == PartnerStatus.ACTIVE and partner.activated_at is not None
    assert_audited(
        actor=superuser,
        action=AuditAction.PARTNER_ACTIVATE,
        reason="contract signed",
        object_type="accounts.partner",
        object_id=str(partner.pk),
        partner_id=partner.pk,
        detail={"partnerId": "GREEN-MILES"},
    )
    assert (
        activate_url(partner)
        not in superuser_client.get(reverse("admin:accounts_partner_change", args=[partner.pk])).content.decode()
    )


def test_an_active_partner_is_not_activated_again(superuser_client, partner):
    response = superuser_client.post(activate_url(partner), {"reason": "again"})
    assert "already active" in response.content.decode()


@pytest.mark.parametrize("role", ["support", "finance", "nogroup"])
def test_only_superusers_activate(request, role, initial_partner):
    client = request.getfixturevalue(f"{role}_client")
    assert client.post(activate_url(initial_partner), {"reason": "me"}).status_code == 403
    assert Partner.objects.get(pk=initial_partner.pk).status == PartnerStatus.INITIAL
