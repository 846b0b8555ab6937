"""Shared fixtures. Tests run against PostgreSQL (make test); nothing here mocks the database."""

import base64
import copy
from datetime import date
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from rest_framework.test import APIClient

from accounts import services as accounts_services
from accounts.tests.factories import CustomerFactory, PartnerFactory, PartnerLinkFactory
from gateways import services as gateway_services
from ledger import services as ledger_services
from ledger.models import Account, AccountKind, Unit

# Fixtures every test package may use: the gateway sandbox, and back-office staff with logged-in clients.
pytest_plugins = ["gateways.tests.fixtures", "accounts.tests.backoffice"]

# The seed's sample request (seeds/000_77ee0850096d7345.txt), verbatim.
SEED_REQUEST = {
    "transactionId": "348328463873",
    "transactionReference": "partner-20190423-0011",
    "service": "PAY_FOR_CHARGING_SESSION",
    "kilometer": 38,
    "serviceSpecificData": {
        "EVSE_ID": "DE*911E12345",
        "CONSUMED_ENERGY_KWH": "12.234",
        "SESSION_START": "2019-02-28T12:12:12.123Z",
        "SESSION_END": "2019-02-28T15:48:12.888Z",
        "GEO_POSITION_USER": "20.12366,21.23425",
        "GEO_POSITION_CHARGEPOINT": "20.12345,21.23445",
        "COUNTRY": "DE",
        "CITY": "Eschborn",
        "STREET": "Kölner Straße",
        "HOUSE_NUMBER": "",
    },
}


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # rate-limit counters live in the cache (Redis under make test)
    yield


@pytest.fixture
def seed_request():
    return copy.deepcopy(SEED_REQUEST)


@pytest.fixture
def partner(db):
    return PartnerFactory(code="PCS-001", name="MSP Partner")


@pytest.fixture
def other_partner(db):
    return PartnerFactory(code="PCS-002", name="Other Partner")


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def link(partner, customer):
    return PartnerLinkFactory(partner=partner, customer=customer, external_user_id="pcsUserId001")


def wallet_of(customer, unit=Unit.KM) -> Account:
    return Account.objects.get(kind=AccountKind.WALLET, customer=customer, unit=unit)


def grant(customer, km: int) -> None:
    ledger_services.kilometers_grant(customer=customer, kilometer=km, reason="test grant")


@pytest.fixture
def funded_link(link):
    grant(link.customer, 100)
    return link


def login(client: APIClient, access_key_id: str, secret: str):
    raw = base64.b64encode(f"{access_key_id}:{secret}".encode()).decode()
    return client.post("/public/v1/login/partner/token", HTTP_AUTHORIZATION=f"Basic {raw}")


@pytest.fixture
def api_key(partner):
    key, secret = accounts_services.api_key_create(partner=partner)
    return key, secret


@pytest.fixture
def tokens(api_key):
    key, secret = api_key
    response = login(APIClient(), key.access_key_id, secret)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def api(tokens):
    """An APIClient authenticated as PCS-001."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['accessToken']}")
    return client


def pay_url(partner_code="PCS-001", user_id="pcsUserId001") -> str:
    return f"/v1/partners/{partner_code}/accounts/{user_id}/transactions"


class _WideBacklogServer(ThreadedWSGIServer):
    # Django's live server queues 10 connections; a burst of 40 clients needs more.
    request_queue_size = 256


class _WideBacklogServerThread(LiveServerThread):
    server_class = _WideBacklogServer


@pytest.fixture
def http_server(transactional_db):
    """A real HTTP server (a thread per request, each with its own database connection) on loopback.

    Like pytest-django's live_server, but it takes bursts of concurrent clients. Yields the base URL.
    """
    thread = _WideBacklogServerThread("127.0.0.1", _StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait(timeout=10)
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


# --- HOP ------------------------------------------------------------------------------------------
HOP_PASSWORD = "service-account-password-2026"


@pytest.fixture
def service_account(partner):
    return accounts_services.service_account_create(partner=partner, email="hop@pcs.example", password=HOP_PASSWORD)


@pytest.fixture
def hop_jwt(service_account):
    response = APIClient().post(
        "/api/v1/auth/token", {"auth": {"email": "hop@pcs.example", "password": HOP_PASSWORD}}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["data"]["jwt"]


@pytest.fixture
def hop_api(hop_jwt):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {hop_jwt}")
    return client


@pytest.fixture
def hop_customer(partner):
    """A customer linked to PCS-001 with a card on record (the seed's token)."""
    customer = CustomerFactory(email="hop.customer@example.com")
    PartnerLinkFactory(partner=partner, customer=customer, external_user_id="hopUser001")
    gateway_services.payment_method_store(customer=customer, token="1000000074340019", expires_at=date(2030, 12, 31))
    return customer


# --- A real browser (issue 5): Debian's headless Chromium driven by Playwright ---------------------
CHROMIUM = "/usr/bin/chromium"  # `.ci/run` installs Debian's chromium when it is missing
ARTIFACTS = Path(__file__).resolve().parent / "test-artifacts" / "screenshots"
STAFF_PASSWORD = "staff-password-for-tests-2026"


@pytest.fixture
def chromium(monkeypatch):
    """A headless Chromium for one test (Playwright's own browser download does not exist here).

    Playwright's sync API keeps an event loop running in this thread while it lives, which Django's ORM
    takes for async code: the test's own database calls are plain synchronous calls, so they are allowed
    for the test's duration only (that is why the browser is not shared by the whole session)."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):
    """A fresh browser context and page; on a failure a screenshot of where it stood is kept as an artifact."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        screenshot(page, f"FAILED-{request.node.name}")
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/ (CI keeps the folder)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def staff_user(username: str, *groups: str):
    """A staff user in the named role groups (accounts.roles), with STAFF_PASSWORD."""
    from django.contrib.auth.models import Group

    from accounts.models import User

    user = User.objects.create_user(
        username=username, email=f"{username}@chargepay.example", password=STAFF_PASSWORD, is_staff=True
    )
    user.groups.set(Group.objects.filter(name__in=groups))
    assert user.groups.count() == len(groups)
    return user


def admin_login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
