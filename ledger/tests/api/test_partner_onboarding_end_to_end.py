"""The issue's "done when", through the test client: a partner registers, staff activate it and register its callback
prefix, and the partner goes to its first payment with no staff action on the link (the customer registers and
confirms on the hosted page)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Customer
from accounts.tests.helpers import bearer, login
from ledger.tests.helpers import CALLBACK, CUSTOMER_PASSWORD, SEED_REQUEST, grant, link_page_url, pay_url


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_from_registration_to_the_first_payment(superuser_client):
    # The partner registers; until activated, it is refused.
    registered = (
        APIClient()
        .post("/public/v1/partners", {"name": "Green Miles", "partnerId": "GREEN-MILES", "type": "MSP"}, format="json")
        .json()
    )
    api = bearer(login(APIClient(), registered["accessKeyId"], registered["secretAccessKey"]).json()["accessToken"])
    assert api.post("/v1/partners/GREEN-MILES/accounts?userId=gm-42").status_code == 403

    # Staff activate it and register its callback prefix in the admin.
    activate = reverse("admin:accounts_partner_activate", args=[registered["id"]])
    assert superuser_client.post(activate, {"reason": "contract signed"}).status_code == 302
    prefix = superuser_client.post(
        reverse("admin:accounts_partnercallbackprefix_add"), {"partner": registered["id"], "prefix": CALLBACK}
    )
    assert prefix.status_code == 302

    # The partner starts the link; the customer registers and confirms on the hosted page.
    code = api.post("/v1/partners/GREEN-MILES/accounts?userId=gm-42").json()["activationCode"]
    browser = Client()
    url = link_page_url(code, partner_code="GREEN-MILES", user_id="gm-42")
    assert browser.get(url).status_code == 200
    browser.post(url, {"action": "register", "email": "gia@example.com", "name": "Gia", "password": CUSTOMER_PASSWORD})
    landed = browser.post(url, {"action": "confirm"})
    assert landed.status_code == 303
    assert parse_qs(urlsplit(landed["Location"]).query) == {"ok": ["true"]}

    # The partner pays for that userId.
    grant(Customer.objects.get(email="gia@example.com"), 100)
    paid = api.post(pay_url("GREEN-MILES", "gm-42"), SEED_REQUEST, format="json")
    assert paid.status_code == 201, paid.content
    assert (paid.json()["partner"], paid.json()["kilometer"]) == ("Green Miles", -38)
