"""The hosted account-linking page (DESIGN §3.5) through Django's test client: every answer, the callback allow-list,
CSRF, the sign-in lockout, registration with Django's password validators. The main flow in a real browser is in
ledger/tests/browser/test_link_page_browser.py."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from accounts.models import Customer, LinkStatus, PartnerCallbackPrefix, PartnerLink, User
from accounts.tests.factories import CustomerFactory, PartnerFactory
from ledger import services as ledger_services
from ledger.tests.helpers import CALLBACK, CUSTOMER_PASSWORD, link_page_url, wallet_of


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def registered(partner):
    PartnerCallbackPrefix.objects.create(partner=partner, prefix=CALLBACK)
    return partner


@pytest.fixture
def code(registered):
    _, code = accounts_services.partner_link_start(partner=registered, external_user_id="pcsUserId001")
    return code


@pytest.fixture
def driver(db):
    """A customer with a password."""
    return ledger_services.customer_register(email="dana@example.com", name="Dana Driver", password=CUSTOMER_PASSWORD)


def result(response) -> dict:
    """The callback a 303 leads to: the URL without the query, and the query's values."""
    assert response.status_code == 303, response.content
    parts = urlsplit(response["Location"])
    return {"to": parts._replace(query="").geturl(), **{k: v[0] for k, v in parse_qs(parts.query).items()}}


def signed_in(client: Client, url: str, email="dana@example.com", password=CUSTOMER_PASSWORD):
    return client.post(url, {"action": "signin", "email": email, "password": password})


def test_the_page_names_the_partner_and_what_linking_allows(client, code):
    response = client.get(link_page_url(code))
    assert response.status_code == 200
    html = response.content.decode()
    assert "MSP Partner" in html and "pcsUserId001" in html and "pay for your charging sessions" in html
    assert 'name="csrfmiddlewaretoken"' in html and "<script" not in html
    assert 'name="viewport"' in html
    assert "no-store" in response["Cache-Control"] and response["X-Frame-Options"] == "DENY"


def test_sign_in_then_confirm_links_and_redirects_with_ok_true(client, code, driver):
    url = link_page_url(code)
    assert signed_in(client, url).status_code == 302
    assert "Signed in as dana@example.com" in client.get(url).content.decode()
    # when
    response = client.post(url, {"action": "confirm"})
    # then
    assert result(response) == {"to": CALLBACK, "ok": "true"}
    link = PartnerLink.objects.get()
    assert (link.status, link.customer) == (LinkStatus.LINKED, driver) and link.activation_code_used_at is not None


def test_register_then_confirm(client, code):
    url = link_page_url(code)
    response = client.post(
        url, {"action": "register", "email": "New@Example.com", "name": "Nia New", "password": CUSTOMER_PASSWORD}
    )
    assert response.status_code == 302
    customer = Customer.objects.get(email="new@example.com")
    assert customer.user.check_password(CUSTOMER_PASSWORD) and not customer.user.is_staff
    assert wallet_of(customer).balance == 0
    assert result(client.post(url, {"action": "confirm"})) == {"to": CALLBACK, "ok": "true"}
    assert PartnerLink.objects.get().customer == customer


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "too short"), ("12345678901234", "entirely numeric"), ("password1234", "too common")],
)
def test_registration_uses_djangos_password_validators(client, code, password, message):
    response = client.post(
        link_page_url(code), {"action": "register", "email": "x@example.com", "name": "X", "password": password}
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert not Customer.objects.exists() and not User.objects.exists()


def test_registration_never_takes_over_a_known_address(client, code):
    CustomerFactory(email="known@example.com")  # opened by staff, no password
    response = client.post(
        link_page_url(code), {"action": "register", "email": "KNOWN@example.com", "name": "Eve", "password": CUSTOMER_PASSWORD}
    )
    assert response.status_code == 400 and "already registered" in response.content.decode()
    assert Customer.objects.get().user is None


def test_decline_redirects_with_the_code_and_uses_it_up(client, code):
    response = client.post(link_page_url(code), {"action": "decline"})
    assert result(response) == {"to": CALLBACK, "ok": "false", "error": "AUTHORIZATION_INVALID"}
    link = PartnerLink.objects.get()
    assert link.status == LinkStatus.INITIAL and link.activation_code_used_at is not None
    assert result(client.get(link_page_url(code))) == {"to": CALLBACK, "ok": "false", "error": "ACTIVATION_CODE_NOT_FOUND"}


def test_confirm_without_signing_in_asks_to_sign_in(client, code):
    response = client.post(link_page_url(code), {"action": "confirm"})
    assert response.status_code == 400 and "Sign in or register first." in response.content.decode()
    assert PartnerLink.objects.get().status == LinkStatus.INITIAL


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"activationCode": ""}, "MANDATORY_PARAMETER_NOT_SET"),
        ({"user_id": ""}, "MANDATORY_PARAMETER_NOT_SET"),
        ({"activationCode": "unknown-code"}, "ACTIVATION_CODE_NOT_FOUND"),
        ({"user_id": "someone-else"}, "REFERENCED_OBJECT_NOT_FOUND"),
    ],
)
def test_a_bad_request_goes_back_to_the_callback_with_its_code(client, code, change, error):
    url = link_page_url(change.get("activationCode", code), user_id=change.get("user_id", "pcsUserId001"))
    assert result(client.get(url)) == {"to": CALLBACK, "ok": "false", "error": error}


def test_a_code_of_another_partner_is_referenced_object_not_found(client, code):
    other = PartnerFactory(code="PCS-002")
    PartnerCallbackPrefix.objects.create(partner=other, prefix=CALLBACK)
    response = client.get(link_page_url(code, partner_code="PCS-002"))
    assert result(response) == {"to": CALLBACK, "ok": "false", "error": "REFERENCED_OBJECT_NOT_FOUND"}


def test_an_expired_code(client, code):
    PartnerLink.objects.update(activation_code_expires_at=timezone.now() - timedelta(seconds=1))
    assert result(client.get(link_page_url(code))) == {"to": CALLBACK, "ok": "false", "error": "ACTIVATION_CODE_NOT_FOUND"}


@pytest.mark.parametrize(
    ("partner_code", "callback", "shown"),
    [
        ("NOPE", CALLBACK, "PARTNER_NOT_FOUND"),
        ("", CALLBACK, "MANDATORY_PARAMETER_NOT_SET"),
        ("PCS-001", "", "MANDATORY_PARAMETER_NOT_SET"),
        ("PCS-001", "https://evil.example/linked", "CALLBACK_NOT_REGISTERED"),
        ("PCS-001", "https://app.partner.example/linkedx", "CALLBACK_NOT_REGISTERED"),
        ("PCS-001", "http://app.partner.example/linked", "CALLBACK_NOT_REGISTERED"),
        ("PCS-001", "https://app.partner.example@evil.example/linked", "CALLBACK_NOT_REGISTERED"),
        ("PCS-001", "javascript:alert(1)//app.partner.example/linked", "CALLBACK_NOT_REGISTERED"),
    ],
)
def test_without_a_registered_callback_the_page_shows_the_error_and_never_redirects(client, code, partner_code, callback, shown):
    url = link_page_url(code, partner_code=partner_code, callback=callback)
    for response in (client.get(url), client.post(url, {"action": "decline"})):
        assert response.status_code in (400, 404) and "Location" not in response
        assert shown in response.content.decode()
    assert PartnerLink.objects.get().activation_code_used_at is None


def test_csrf_is_required_on_every_form(code, driver):
    client = Client(enforce_csrf_checks=True)
    for action in ("signin", "register", "confirm", "decline"):
        response = client.post(
            link_page_url(code), {"action": action, "email": "dana@example.com", "password": CUSTOMER_PASSWORD}
        )
        assert response.status_code == 403
    assert PartnerLink.objects.get().activation_code_used_at is None


def test_a_wrong_password_is_refused_and_five_lock_the_address_out(client, code, driver):
    url = link_page_url(code)
    for _ in range(4):
        response = signed_in(client, url, password="wrong")
        assert response.status_code == 400 and "wrong" in response.content.decode()
    response = signed_in(client, url, password="wrong")
    assert response.status_code == 429 and "Too many failed sign-ins" in response.content.decode()
    # locked: even the right password is refused now
    assert signed_in(client, url).status_code == 429
    assert "_auth_user_id" not in client.session


def test_staff_cannot_sign_in_on_the_page(client, code):
    User.objects.create_user(username="staff@example.com", email="staff@example.com", password=CUSTOMER_PASSWORD, is_staff=True)
    response = signed_in(client, link_page_url(code), email="staff@example.com")
    assert response.status_code == 400 and "_auth_user_id" not in client.session


def test_a_customer_password_opens_neither_the_admin_nor_hop(client, driver):
    client.force_login(driver.user)
    assert client.get("/admin/").status_code == 302  # to the admin's login page
    response = client.post(
        "/api/v1/auth/token",
        {"auth": {"email": "dana@example.com", "password": CUSTOMER_PASSWORD}},
        content_type="application/json",
    )
    assert response.status_code == 401


def test_a_user_id_linked_to_another_customer_meanwhile(client, code, driver, registered):
    url = link_page_url(code)
    signed_in(client, url)
    someone = CustomerFactory()
    accounts_services.partner_link_confirm(
        partner=registered, external_user_id="pcsUserId001", activation_code=code, customer=someone
    )
    response = client.post(url, {"action": "confirm"})
    assert result(response) == {"to": CALLBACK, "ok": "false", "error": "ACCOUNT_LINKED_TO_DIFFERENT_USER"}
    assert PartnerLink.objects.get().customer == someone


def test_a_customer_already_linked_under_another_user_id(client, code, driver, registered):
    _, other_code = accounts_services.partner_link_start(partner=registered, external_user_id="older-id")
    accounts_services.partner_link_confirm(
        partner=registered, external_user_id="older-id", activation_code=other_code, customer=driver
    )
    url = link_page_url(code)
    signed_in(client, url)
    assert result(client.post(url, {"action": "confirm"}))["error"] == "ACCOUNT_LINKED_TO_DIFFERENT_USER"


def test_a_reload_after_confirming_is_ok_true(client, code, driver):
    url = link_page_url(code)
    signed_in(client, url)
    client.post(url, {"action": "confirm"})
    assert result(client.post(url, {"action": "confirm"})) == {"to": CALLBACK, "ok": "true"}


def test_callback_query_and_deep_links_are_kept(client, registered):
    PartnerCallbackPrefix.objects.create(partner=registered, prefix="myapp://and-charge")
    _, code = accounts_services.partner_link_start(partner=registered, external_user_id="pcsUserId001")
    response = client.post(link_page_url(code, callback="myapp://and-charge/done?state=abc"), {"action": "decline"})
    assert response["Location"] == "myapp://and-charge/done?state=abc&ok=false&error=AUTHORIZATION_INVALID"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        (CALLBACK, True),
        (CALLBACK + "/", True),
        (CALLBACK + "/done?x=1#frag", True),
        ("HTTPS://APP.partner.example/linked", True),
        (CALLBACK + "x", False),
        ("https://app.partner.example/other", False),
        ("https://app.partner.example:8443/linked", False),
        ("https://app.partner.example\\@evil.example/linked", False),
        ("https://app.partner.example/linked\n", False),
        ("//app.partner.example/linked", False),
        ("", False),
    ],
)
def test_callback_url_allowed(registered, url, allowed):
    assert accounts_selectors.callback_url_allowed(partner=registered, url=url) is allowed


def test_a_partner_not_yet_activated_is_not_found(client, db):
    partner, _, _ = ledger_services.partner_register(code="NEW-1", name="New", type="MSP")
    PartnerCallbackPrefix.objects.create(partner=partner, prefix=CALLBACK)
    response = client.get(link_page_url("any-code", partner_code="NEW-1"))
    assert response.status_code == 404 and "Location" not in response and "PARTNER_NOT_FOUND" in response.content.decode()
