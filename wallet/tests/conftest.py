"""Fixtures of the cents wallet's tests: the real gateway sandbox over loopback HTTP (the Drink Command charge and
automatic top-ups go through it), a partner's second service account, an RFID token for the HOP customer."""

import pytest

from accounts import services as accounts_services
from gateways.tests.api.support import hop_client_for
from ledger import services as ledger_services
from ledger.models import SystemAccount, TransactionKind

from .helpers import allow_comps

RFID = "1685583841"  # drinkcommand.md's test session token


@pytest.fixture(autouse=True)
def _fast_logins(settings):
    """Service-account logins hash fast here (accounts/tests/api/test_hop_auth.py keeps the real hasher)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def rfid(hop_customer):
    accounts_services.rfid_token_add(customer=hop_customer, token=RFID)
    return RFID


@pytest.fixture
def comp_api(service_account, hop_api):
    """The `hop_api` client, its service account also allowed to comp."""
    allow_comps(service_account)
    return hop_api


@pytest.fixture
def other_hop_api(other_partner):
    return hop_client_for(partner=other_partner, email="hop@other.example")


@pytest.fixture
def topped_up(hop_customer, partner):
    """Give the HOP customer `cents` without the gateway (a comp of the partner), for tests about spending."""

    def top_up(cents: int):
        return ledger_services.cents_wallet_move(
            kind=TransactionKind.COMP,
            customer_id=hop_customer.pk,
            partner=partner,
            amount_cents=cents,
            counterpart=SystemAccount.USD_COMPS,
        )

    return top_up
