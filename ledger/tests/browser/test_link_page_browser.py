"""The hosted account-linking page in a real browser (Debian's headless Chromium driven by Playwright, on a phone-
sized screen with JavaScript off): a partner starts a link, the customer registers on the page, confirms and lands
on the partner's callback with ok=true, and the partner pays for that userId. Also: declining, an expired code, a
callback outside the allow-list (no redirect), a userId linked to another customer meanwhile. Screenshots are saved
under test-artifacts/screenshots/."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import services as accounts_services
from accounts.models import Customer, LinkStatus, PartnerCallbackPrefix, PartnerLink
from accounts.tests.factories import CustomerFactory
from backoffice.tests.browser import screenshot
from ledger.tests.helpers import CALLBACK, CUSTOMER_PASSWORD, SEED_REQUEST, grant, link_page_url, pay_url

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def phone(chromium, request):
    """A phone-sized page with JavaScript off; the partner's app behind CALLBACK is a stub page."""
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.route(
        CALLBACK + "**",
        lambda route: route.fulfill(
            content_type="text/html", body="<!doctype html><h1>Partner app</h1><p>Back in the partner's app.</p>"
        ),
    )
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        screenshot(page, f"FAILED-{request.node.name}")
    context.close()


@pytest.fixture
def registered(partner):
    PartnerCallbackPrefix.objects.create(partner=partner, prefix=CALLBACK)
    return partner


def start_link(api, user_id="pcsUserId001") -> str:
    response = api.post(f"/v1/partners/PCS-001/accounts?userId={user_id}")
    assert response.status_code == 201, response.content
    return response.json()["activationCode"]


def callback_result(page) -> dict:
    parts = urlsplit(page.url)
    assert parts._replace(query="").geturl() == CALLBACK
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def follow_from_partner_app(page, url: str) -> None:
    """Follow a link to `url` from a page, as a customer does from the partner's app (Chromium lets Playwright stub
    the callback a redirect leads to when the navigation starts from a page, not from page.goto)."""
    page.goto(CALLBACK + "/start")
    page.set_content(f'<a id="go" href="{url}">Link your account</a>')
    page.click("#go")


def fits_the_screen(page) -> None:
    for box in (page.locator("main").bounding_box(), page.locator("button").first.bounding_box()):
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_a_customer_registers_confirms_and_the_partner_pays(http_server, phone, registered, api):
    # Given: the partner starts a link for pcsUserId001 and sends the customer's browser to the page.
    code = start_link(api)
    phone.goto(http_server + link_page_url(code))
    expect(phone.locator("h1")).to_contain_text("MSP Partner")
    expect(phone.locator("body")).to_contain_text("pay for your charging sessions")
    fits_the_screen(phone)
    screenshot(phone, "10-link-page")

    # When: the customer registers on the spot.
    phone.fill("#register-email", "dana@example.com")
    phone.fill("#register-name", "Dana Driver")
    phone.fill("#register-password", CUSTOMER_PASSWORD)
    phone.click("#register-button")

    # Then: signed in, asked to confirm.
    expect(phone.locator("#confirm")).to_contain_text("Signed in as dana@example.com")
    fits_the_screen(phone)
    screenshot(phone, "11-link-confirm")
    assert PartnerLink.objects.get().status == LinkStatus.INITIAL

    # When: the customer confirms.
    phone.click("#confirm-button")

    # Then: back in the partner's app with ok=true, and the link is LINKED to the new customer.
    expect(phone.locator("h1")).to_have_text("Partner app")
    assert callback_result(phone) == {"ok": "true"}
    screenshot(phone, "12-link-callback")
    customer = Customer.objects.get(email="dana@example.com")
    link = PartnerLink.objects.get()
    assert (link.status, link.customer) == (LinkStatus.LINKED, customer)

    # And: the partner pays with that userId, with no staff action on the link.
    grant(customer, 100)
    response = api.post(pay_url(), SEED_REQUEST, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kilometer"] == -38


def test_declining(http_server, phone, registered, api):
    code = start_link(api)
    phone.goto(http_server + link_page_url(code))
    phone.click("#decline-button")
    expect(phone.locator("h1")).to_have_text("Partner app")
    assert callback_result(phone) == {"ok": "false", "error": "AUTHORIZATION_INVALID"}
    assert PartnerLink.objects.get().status == LinkStatus.INITIAL


def test_an_expired_code(http_server, phone, registered, api):
    code = start_link(api)
    PartnerLink.objects.update(activation_code_expires_at=timezone.now() - timedelta(seconds=1))
    follow_from_partner_app(phone, http_server + link_page_url(code))
    expect(phone.locator("h1")).to_have_text("Partner app")
    assert callback_result(phone) == {"ok": "false", "error": "ACTIVATION_CODE_NOT_FOUND"}


def test_a_callback_outside_the_allow_list_is_never_followed(http_server, phone, registered, api):
    code = start_link(api)
    phone.goto(http_server + link_page_url(code, callback="https://evil.example/linked"))
    expect(phone.locator("#error-code")).to_have_text("CALLBACK_NOT_REGISTERED")
    assert phone.url.startswith(http_server)
    screenshot(phone, "13-link-callback-not-registered")
    assert PartnerLink.objects.get().activation_code_used_at is None


def test_a_user_id_linked_to_another_customer_meanwhile(http_server, phone, registered, api):
    code = start_link(api)
    phone.goto(http_server + link_page_url(code))
    phone.fill("#register-email", "late@example.com")
    phone.fill("#register-name", "Late Comer")
    phone.fill("#register-password", CUSTOMER_PASSWORD)
    phone.click("#register-button")
    expect(phone.locator("#confirm")).to_be_visible()
    # Meanwhile someone else confirmed the same link (another browser with the same code).
    first = CustomerFactory()
    accounts_services.partner_link_confirm(
        partner=registered, external_user_id="pcsUserId001", activation_code=code, customer=first
    )
    phone.click("#confirm-button")
    expect(phone.locator("h1")).to_have_text("Partner app")
    assert callback_result(phone) == {"ok": "false", "error": "ACCOUNT_LINKED_TO_DIFFERENT_USER"}
    assert PartnerLink.objects.get().customer == first
