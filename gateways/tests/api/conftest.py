"""HOP API fixtures: every test here talks to the real gateway sandbox over loopback HTTP."""

from datetime import date

import pytest

from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from gateways import services as gateway_services

from .support import hop_client_for


@pytest.fixture(autouse=True)
def _gateway(gateway_settings):
    """The product's gateway client points at this test's sandbox. Service-account logins hash fast here:
    password hashing is not what these tests are about (accounts/tests/api/test_hop_auth.py keeps the real hasher)."""
    gateway_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return gateway_settings


@pytest.fixture
def other_hop_api(other_partner):
    """A service account of PCS-002, logged in."""
    return hop_client_for(partner=other_partner, email="hop@other.example")


@pytest.fixture
def other_customer(other_partner):
    """A customer linked to PCS-002 only, with a card on record."""
    customer = CustomerFactory(email="other.customer@example.com")
    PartnerLinkFactory(partner=other_partner, customer=customer, external_user_id="otherUser001")
    gateway_services.payment_method_store(customer=customer, token="4000000000000002", expires_at=date(2031, 6, 30))
    return customer


@pytest.fixture
def second_customer(partner):
    """Another customer linked to PCS-001, with its own card on record."""
    customer = CustomerFactory(email="second.customer@example.com")
    PartnerLinkFactory(partner=partner, customer=customer, external_user_id="hopUser002")
    gateway_services.payment_method_store(customer=customer, token="5000000000000009", expires_at=date(2031, 1, 31))
    return customer
