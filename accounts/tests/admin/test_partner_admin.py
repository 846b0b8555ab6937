"""Partners in the back-office: API keys (created by staff with the secret shown once, revoked with a reason, both
audited; only superusers or holders of the API-key permissions), service accounts and link counts."""

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuditAction, AuditLog, PartnerApiKey
from accounts.tests.factories import PartnerApiKeyFactory, PartnerLinkFactory
from accounts.tests.helpers import assert_audited, bearer, login
from backoffice.tests.helpers import money_state, shown_messages, text

ACCOUNT_URL = "/v1/partners/PCS-001/accounts/pcsUserId001"


def partner_url(partner) -> str:
    return reverse("admin:accounts_partner_change", args=[partner.pk])


def create_url(partner) -> str:
    return reverse("admin:accounts_partner_create_api_key", args=[partner.pk])


def revoke_url(key: PartnerApiKey) -> str:
    return reverse("admin:accounts_partner_revoke_api_key", args=[key.partner_id, key.pk])


def test_the_partner_page_lists_keys_service_accounts_and_links(support_client, partner, api_key, link, service_account):
    active, _ = api_key
    revoked = PartnerApiKeyFactory(partner=partner, label="old backend")
    services.api_key_revoke(key=revoked)
    PartnerLinkFactory(partner=partner, external_user_id="notConfirmedYet", confirmed=False)

    response = support_client.get(partner_url(partner))

    assert response.status_code == 200
    keys, accounts, prefixes = response.context["inline_admin_formsets"]
    assert sorted((f.original.access_key_id, f.original.revoked_at is None) for f in keys) == sorted(
        [(active.access_key_id, True), (revoked.access_key_id, False)]
    )
    assert [f.original.email for f in accounts] == ["hop@pcs.example"]
    assert list(prefixes) == []  # no callback prefix registered
    page = text(response)
    assert f'href="{revoke_url(active)}">Revoke…</a>' in page
    assert revoke_url(revoked) not in page
    links_url = reverse("admin:accounts_partnerlink_changelist") + f"?partner__id__exact={partner.pk}"
    assert f'<a href="{links_url}">1 linked, 2 in all</a>' in page
    assert 'id="create-api-key"' not in page  # support does not manage partner credentials


def test_the_partner_links_list_filters_by_partner(support_client, partner, other_partner, link):
    other = PartnerLinkFactory(partner=other_partner, external_user_id="elsewhere")

    response = support_client.get(reverse("admin:accounts_partnerlink_changelist"), {"partner__id__exact": partner.pk})

    assert [obj.pk for obj in response.context["cl"].result_list] == [link.pk]
    assert other.pk != link.pk


def test_superuser_creates_a_key_whose_secret_is_shown_once(superuser_client, superuser, partner, link):
    # When: a superuser asks for a key, with a reason.
    form = superuser_client.get(create_url(partner))
    response = superuser_client.post(create_url(partner), {"label": "production backend", "reason": "partner onboarding"})

    # Then: the answer page shows the id and the secret, and may not be cached.
    assert form.status_code == 200
    assert response.status_code == 200
    assert "no-store" in [directive.strip() for directive in response["Cache-Control"].split(",")]
    key = PartnerApiKey.objects.get(label="production backend")
    secret = response.context["secret"]
    page = text(response)
    assert f'<code id="access-key-id">{key.access_key_id}</code>' in page
    assert f'<code id="secret-access-key">{secret}</code>' in page
    assert len(secret) >= 40
    # Only its digest is stored, and the audit record does not hold it either.
    assert key.secret_digest == services.secret_digest(secret)
    assert secret not in json.dumps(list(PartnerApiKey.objects.values()), default=str)
    assert_audited(
        actor=superuser,
        action=AuditAction.API_KEY_CREATE,
        reason="partner onboarding",
        object_type="accounts.partnerapikey",
        object_id=str(key.pk),
        partner_id=partner.pk,
        customer_id=None,
        detail={"accessKeyId": key.access_key_id, "label": "production backend"},
    )
    assert secret not in json.dumps(list(AuditLog.objects.values()), default=str)
    # The partner logs in with it.
    tokens = login(APIClient(), key.access_key_id, secret)
    assert tokens.status_code == 200
    partner_api = bearer(tokens.json()["accessToken"])
    assert partner_api.get(ACCOUNT_URL).status_code == 200
    # And the secret is never shown again.
    again = superuser_client.get(partner_url(partner))
    assert key.access_key_id in text(again)
    assert secret not in again.content.decode()


def test_a_key_needs_a_reason(superuser_client, partner):
    before = money_state()

    response = superuser_client.post(create_url(partner), {"label": "production backend", "reason": ""})

    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert "secret" not in response.context
    assert money_state() == before


def test_revoking_a_key_stops_its_tokens_at_once(superuser_client, superuser, partner, api_key, api, link):
    key, secret = api_key
    assert api.get(ACCOUNT_URL).status_code == 200

    page = superuser_client.get(revoke_url(key))
    response = superuser_client.post(revoke_url(key), {"reason": "the secret leaked into a log file"})

    assert page.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == partner_url(partner)
    key.refresh_from_db()
    assert key.revoked_at is not None
    refused = api.get(ACCOUNT_URL)  # the access token issued before the revocation
    assert refused.status_code == 401
    assert refused.json() == {"error": "AUTHORIZATION_INVALID", "args": []}
    assert login(APIClient(), key.access_key_id, secret).status_code == 401
    assert_audited(
        actor=superuser,
        action=AuditAction.API_KEY_REVOKE,
        reason="the secret leaked into a log file",
        object_id=str(key.pk),
        partner_id=partner.pk,
        detail={"accessKeyId": key.access_key_id},
    )
    after = superuser_client.get(partner_url(partner))
    assert shown_messages(after) == [f"API key {key.access_key_id} revoked; its tokens stop working now."]
    assert revoke_url(key) not in text(after)


def test_revoking_needs_a_reason_and_an_active_key(superuser_client, superuser, api_key, api, link):
    key, _ = api_key
    before = money_state()

    no_reason = superuser_client.post(revoke_url(key), {"reason": " "})

    assert no_reason.context["form"].errors == {"reason": ["This field is required."]}
    assert money_state() == before
    assert api.get(ACCOUNT_URL).status_code == 200

    services.api_key_revoke_by_staff(key_id=key.pk, staff=superuser, reason="rotated")
    before = money_state()

    page = superuser_client.get(revoke_url(key))
    again = superuser_client.post(revoke_url(key), {"reason": "rotated again"})

    assert "This key is already revoked." in text(page)
    assert again.status_code == 200
    [message] = shown_messages(again)
    assert message.startswith("Refused (API_KEY_ALREADY_REVOKED)") and "already revoked" in message
    assert money_state() == before


def test_a_key_is_revoked_only_through_its_own_partner(superuser_client, partner, other_partner, api_key):
    key, _ = api_key
    url = reverse("admin:accounts_partner_revoke_api_key", args=[other_partner.pk, key.pk])

    response = superuser_client.post(url, {"reason": "wrong partner in the url"})

    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


@pytest.mark.parametrize("role", ["support", "finance", "nogroup"])
def test_only_superusers_manage_api_keys(request, role, partner, api_key, api, link):
    client = request.getfixturevalue(f"{role}_client")
    key, _ = api_key
    before = money_state()

    responses = [
        client.get(create_url(partner)),
        client.post(create_url(partner), {"label": "mine", "reason": "I want a key"}),
        client.get(revoke_url(key)),
        client.post(revoke_url(key), {"reason": "I want it gone"}),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert money_state() == before
    assert api.get(ACCOUNT_URL).status_code == 200


def test_partners_cannot_be_added_changed_or_deleted(superuser_client, partner):
    add = superuser_client.post(reverse("admin:accounts_partner_add"), {"code": "PCS-999", "name": "New"})
    change = superuser_client.post(partner_url(partner), {"code": "PCS-XXX", "name": "Renamed", "is_active": ""})
    delete = superuser_client.post(reverse("admin:accounts_partner_delete", args=[partner.pk]), {"post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    partner.refresh_from_db()
    assert (partner.code, partner.name, partner.is_active) == ("PCS-001", "MSP Partner", True)
