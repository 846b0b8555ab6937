"""Shared fixtures. Tests run against PostgreSQL (make test); nothing here mocks the database."""

import base64
import copy
from datetime import date

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
