"""POST/GET/DELETE /v1/partners/{pid}/webhooks and the secret rotation, in the &Charge envelope."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditLog
from accounts.tests.factories import PartnerApiKeyFactory
from accounts.tests.helpers import bearer, login
from webhooks.models import WebhookEndpoint

URL = "https://partner.example/chargepay/hooks"


def _create(api, **body):
    return api.post(
        reverse("andcharge-webhooks", args=["PCS-001"]),
        {"url": URL, "eventTypes": ["link.linked", "transaction.cancelled"], **body},
        format="json",
    )


def test_register_list_rotate_delete(api):
    created = _create(api, description="prod", contactEmail="ops@partner.example")

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["previousSecretValidUntil"] is None
    assert body["eventTypes"] == ["link.linked", "transaction.cancelled"]
    assert created["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.secret, endpoint.url, endpoint.contact_email) == (body["secret"], URL, "ops@partner.example")

    listed = api.get(reverse("andcharge-webhooks", args=["PCS-001"]))
    assert listed.status_code == 200
    assert listed.json() == [{k: v for k, v in body.items() if k not in ("secret", "previousSecretValidUntil")}]

    rotated = api.post(reverse("andcharge-webhook-secret", args=["PCS-001", body["id"]]))
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != body["secret"] and rotated.json()["previousSecretValidUntil"].endswith("+0000")
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == body["secret"]

    deleted = api.delete(reverse("andcharge-webhook", args=["PCS-001", body["id"]]))
    assert deleted.status_code == 204
    assert api.get(reverse("andcharge-webhooks", args=["PCS-001"])).json() == []
    again = api.delete(reverse("andcharge-webhook", args=["PCS-001", body["id"]]))
    assert again.status_code == 404
    assert again.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["webhook", str(body["id"])]}
    assert AuditLog.objects.filter(action="webhook_endpoint_change", actor=None).count() == 3


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"url": "http://partner.example/hooks"},
            {"error": "INVALID_PARAMETER", "args": ["http://partner.example/hooks", "url"]},
        ),
        ({"url": "https://10.0.0.7/hooks"}, {"error": "INVALID_PARAMETER", "args": ["https://10.0.0.7/hooks", "url"]}),
        ({"url": None}, {"error": "MANDATORY_PARAMETER_NOT_SET", "args": ["url"]}),
        ({"url": "https://p.example/" + "a" * 500}, {"error": "PARAMETER_MAX_LENGTH", "args": ["url", 500]}),
        ({"eventTypes": ["charge.stolen"]}, {"error": "INVALID_PARAMETER", "args": [["charge.stolen"], "eventTypes"]}),
        ({"eventTypes": []}, {"error": "INVALID_PARAMETER", "args": [[], "eventTypes"]}),
    ],
)
def test_bad_registrations_are_refused_and_change_nothing(api, settings, body, error):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    response = _create(api, **body)

    assert response.status_code == 400, response.content
    assert response.json() == error
    assert WebhookEndpoint.objects.count() == 0


def test_another_partners_endpoints_are_neither_seen_nor_touched(api, other_partner):
    key = PartnerApiKeyFactory(partner=other_partner)
    other_api = bearer(login(APIClient(), key.access_key_id, key.secret).json()["accessToken"])
    created = other_api.post(
        reverse("andcharge-webhooks", args=["PCS-002"]), {"url": URL, "eventTypes": ["link.linked"]}, format="json"
    ).json()

    assert api.get(reverse("andcharge-webhooks", args=["PCS-002"])).status_code == 403
    assert api.get(reverse("andcharge-webhooks", args=["PCS-001"])).json() == []
    assert api.delete(reverse("andcharge-webhook", args=["PCS-001", created["id"]])).status_code == 404
    assert api.post(reverse("andcharge-webhook-secret", args=["PCS-001", created["id"]])).status_code == 404
    assert WebhookEndpoint.objects.get().enabled


def test_no_token_is_401(client):
    response = client.get(reverse("andcharge-webhooks", args=["PCS-001"]))
    assert response.status_code == 401


@pytest.mark.parametrize("webhook_id", ["99999999999999999999", "²", "abc", "-1", "0"])
def test_an_id_that_is_no_endpoint_is_404(api, webhook_id):
    response = api.delete(reverse("andcharge-webhook", args=["PCS-001", webhook_id]))

    assert response.status_code == 404
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["webhook", webhook_id]}
