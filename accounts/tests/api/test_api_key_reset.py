"""PUT /v1/partners/{pid}/apikey (DESIGN §3.5): a new key pair, the calling key revoked at once, audited."""

from rest_framework.test import APIClient

from accounts.models import AuditAction, PartnerApiKey
from accounts.tests.factories import PartnerApiKeyFactory
from accounts.tests.helpers import assert_audited, bearer, login

ACCOUNT_URL = "/v1/partners/PCS-001/accounts/pcsUserId001"
APIKEY_URL = "/v1/partners/PCS-001/apikey"


def test_the_old_keys_token_gets_401_at_once_and_the_new_key_logs_in(api, api_key, tokens, link):
    old_key, _ = api_key
    other_key = PartnerApiKeyFactory(partner=old_key.partner)
    assert api.get(ACCOUNT_URL).status_code == 200
    # when
    response = api.put(APIKEY_URL)
    # then
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["partner"] == {"partnerId": "PCS-001", "name": "MSP Partner"}
    new_key = PartnerApiKey.objects.get(access_key_id=body["accessKeyId"])
    assert new_key.partner == old_key.partner and new_key.is_active
    # the old key: revoked, its access token and refresh token refused at once
    old_key.refresh_from_db()
    assert old_key.revoked_at is not None
    assert api.get(ACCOUNT_URL).json() == {"error": "AUTHORIZATION_INVALID", "args": []}
    assert api.put(APIKEY_URL).status_code == 401
    refreshed = APIClient().get("/public/v1/tokens", HTTP_AUTHORIZATION=f"Bearer {tokens['refreshToken']}")
    assert refreshed.status_code == 401
    # the new key logs in and works
    new_tokens = login(APIClient(), body["accessKeyId"], body["secretAccessKey"])
    assert new_tokens.status_code == 200
    assert bearer(new_tokens.json()["accessToken"]).get(ACCOUNT_URL).status_code == 200
    # the partner's other key stays
    other_key.refresh_from_db()
    assert other_key.is_active
    assert PartnerApiKey.objects.filter(partner=old_key.partner).count() == 3
    assert_audited(
        actor=None,
        action=AuditAction.API_KEY_ROTATE,
        object_type="accounts.partnerapikey",
        object_id=str(new_key.pk),
        partner_id=old_key.partner_id,
        detail={"accessKeyId": new_key.access_key_id, "revokedAccessKeyId": old_key.access_key_id},
    )


def test_the_old_secret_no_longer_logs_in(api, api_key):
    key, secret = api_key
    assert api.put(APIKEY_URL).status_code == 200
    assert login(APIClient(), key.access_key_id, secret).status_code == 401


def test_another_partners_path_is_refused_and_nothing_changes(api, api_key, other_partner):
    response = api.put("/v1/partners/PCS-002/apikey")
    assert (response.status_code, response.json()) == (403, {"error": "ACCESS_DENIED", "args": []})
    assert PartnerApiKey.objects.count() == 1 and api_key[0].is_active


def test_without_a_token_401(partner):
    response = APIClient().put(APIKEY_URL)
    assert (response.status_code, response.json()) == (401, {"error": "AUTHORIZATION_INVALID", "args": []})
