"""Linking in the back-office: links with their status and activation-code times (never the code), callback prefixes
per partner (validated, the admin's edits audited), and linking/unlinking on the customer's timeline."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import AuditAction, AuditLog, PartnerCallbackPrefix
from accounts.tests.factories import CustomerFactory
from backoffice.tests.helpers import text


@pytest.fixture
def started(partner):
    link, code = services.partner_link_start(partner=partner, external_user_id="pcsUserId001")
    return link, code


def test_the_links_list_shows_status_and_code_times_never_the_code(superuser_client, started):
    link, code = started
    for url in (reverse("admin:accounts_partnerlink_changelist"), reverse("admin:accounts_partnerlink_change", args=[link.pk])):
        page = text(superuser_client.get(url))
        assert "INITIAL" in page or "Initial" in page
        assert "issued" in page.lower() and "expires" in page.lower()
        assert code not in page and link.activation_code_digest not in page


def test_staff_register_a_callback_prefix_audited(superuser_client, superuser, partner):
    url = reverse("admin:accounts_partnercallbackprefix_add")
    response = superuser_client.post(url, {"partner": partner.pk, "prefix": "https://app.partner.example/linked"})
    assert response.status_code == 302
    assert list(partner.callback_prefixes.values_list("prefix", flat=True)) == ["https://app.partner.example/linked"]
    record = AuditLog.objects.get(action=AuditAction.ADMIN_EDIT)
    assert (record.actor, record.object_type) == (superuser, "accounts.partnercallbackprefix")
    page = text(superuser_client.get(reverse("admin:accounts_partner_change", args=[partner.pk])))
    assert "https://app.partner.example/linked" in page


@pytest.mark.parametrize(
    "prefix",
    [
        "app.partner.example/linked",
        "https://app.partner.example/linked?x=1",
        "https://a@b.example/",
        "javascript://x/",
        "https://a b/",
    ],
)
def test_a_bad_prefix_is_refused(superuser_client, partner, prefix):
    response = superuser_client.post(
        reverse("admin:accounts_partnercallbackprefix_add"), {"partner": partner.pk, "prefix": prefix}
    )
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert not PartnerCallbackPrefix.objects.exists()


def test_the_customer_timeline_shows_linking_and_unlinking(support_client, partner, started):
    _, code = started
    customer = CustomerFactory()
    services.partner_link_confirm(partner=partner, external_user_id="pcsUserId001", activation_code=code, customer=customer)
    services.partner_link_remove(partner=partner, external_user_id="pcsUserId001")
    page = support_client.get(reverse("admin:accounts_customer_change", args=[customer.pk]))
    titles = [row["event"].title for row in page.context["timeline"]]
    assert titles == ["Unlinked by PCS-001", "Linked to PCS-001"]
    assert "pcsUserId001" in text(page)
