"""HOP API fixtures: every test here talks to the real gateway sandbox over loopback HTTP."""

from datetime import date

import pytest

from gateways.tests.factories import card_holder

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
    return card_holder(
        partner=other_partner,
        external_user_id="otherUser001",
        token="4000000000000002",
        expires_at=date(2031, 6, 30),
        email="other.customer@example.com",
    )


@pytest.fixture
def second_customer(partner):
    """Another customer linked to PCS-001, with its own card on record."""
    return card_holder(
        partner=partner,
        external_user_id="hopUser002",
        token="5000000000000009",
        expires_at=date(2031, 1, 31),
        email="second.customer@example.com",
    )
