"""Shared fixtures. Tests run against PostgreSQL (make test); nothing here mocks the database.

Test helpers and factories live in importable modules (`<app>/tests/helpers.py`, `<app>/tests/factories.py`,
`backoffice/tests/browser.py`); this file holds fixtures only.
"""

import copy
from datetime import date

import pytest
from django.core.cache import cache
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from rest_framework.test import APIClient

from accounts.tests.factories import (
    CustomerFactory,
    PartnerApiKeyFactory,
    PartnerFactory,
    PartnerLinkFactory,
    ServiceAccountFactory,
)
from accounts.tests.helpers import HOP_PASSWORD, bearer, hop_login, login
from gateways.tests.factories import SEED_TOKEN, card_holder
from ledger.tests.helpers import SEED_REQUEST, grant

# Fixtures every test package may use: the gateway sandbox; back-office staff with logged-in clients, and a browser.
pytest_plugins = ["gateways.tests.fixtures", "backoffice.tests.fixtures"]


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


@pytest.fixture
def funded_link(link):
    grant(link.customer, 100)
    return link


@pytest.fixture
def api_key(partner):
    """(key, secret) of an API key of PCS-001."""
    key = PartnerApiKeyFactory(partner=partner)
    return key, key.secret


@pytest.fixture
def tokens(api_key):
    key, secret = api_key
    response = login(APIClient(), key.access_key_id, secret)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def api(tokens):
    """An APIClient authenticated as PCS-001."""
    return bearer(tokens["accessToken"])


class _WideBacklogServer(ThreadedWSGIServer):
    # Django's live server queues 10 connections; a burst of 40 clients needs more.
    request_queue_size = 256


class _WideBacklogServerThread(LiveServerThread):
    server_class = _WideBacklogServer


@pytest.fixture
def http_server(transactional_db, settings):
    """A real HTTP server (a thread per request, each with its own database connection) on loopback.

    Like pytest-django's live_server, but it takes bursts of concurrent clients. Yields the base URL. The one
    process stands for a production tier of many, so it gets their gateway slots together (the bulkhead's own
    tests set GATEWAY_CALLS_PER_PROCESS back to 1).
    """
    settings.GATEWAY_CALLS_PER_PROCESS = 32
    thread = _WideBacklogServerThread("127.0.0.1", _StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait(timeout=10)
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


# --- HOP ------------------------------------------------------------------------------------------
@pytest.fixture
def service_account(partner):
    return ServiceAccountFactory(partner=partner, email="hop@pcs.example", password=HOP_PASSWORD)


@pytest.fixture
def hop_jwt(service_account):
    response = hop_login("hop@pcs.example", HOP_PASSWORD)
    assert response.status_code == 201, response.content
    return response.json()["data"]["jwt"]


@pytest.fixture
def hop_api(hop_jwt):
    return bearer(hop_jwt)


@pytest.fixture
def hop_customer(partner):
    """A customer linked to PCS-001 with a card on record (the seed's token)."""
    return card_holder(
        partner=partner,
        external_user_id="hopUser001",
        token=SEED_TOKEN,
        expires_at=date(2030, 12, 31),
        email="hop.customer@example.com",
    )
