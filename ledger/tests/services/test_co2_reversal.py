"""Staff reverse each kind of CO2 transaction: the customer's offset and donation (support, within its limit) and the
partner-paid offset (finance only: it changes the partner's bill)."""

import copy

import pytest

from accounts.models import AuditAction
from accounts.tests.helpers import assert_audited
from core.errors import TransactionNotReversible
from ledger import selectors, services
from ledger.models import SystemAccount, Transaction, TransactionStatus
from ledger.tests.helpers import CO2_REQUEST, grid_intensities_seed, wallet_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _grid_intensities(db):
    grid_intensities_seed()


def offsets_total() -> int:
    return selectors.account_entries_total(account_id=selectors.system_account_id(code=SystemAccount.KM_CO2_OFFSET))


def billing_total(partner) -> int:
    return selectors.account_entries_total(account_id=selectors.partner_billing_account_id(partner_id=partner.pk))


def customer_offset(link) -> Transaction:
    return services.co2_offset_pay(
        partner_code=link.partner.code,
        access_key_id=None,
        external_user_id=link.external_user_id,
        external_id="offset-1",
        kilometer=None,
        service_data=copy.deepcopy(CO2_REQUEST["serviceSpecificData"]),
    )


def donation(link) -> Transaction:
    return services.co2_donation_pay(
        partner_code=link.partner.code,
        access_key_id=None,
        external_user_id=link.external_user_id,
        external_id="donation-1",
        kilometer=10,
        service_data={},
    )


def partner_offset(partner) -> Transaction:
    return services.co2_offset_partner_pay(
        partner=partner, external_id="partner-1", kilometer=None, service_data=copy.deepcopy(CO2_REQUEST["serviceSpecificData"])
    )


@pytest.mark.parametrize(("pay", "km"), [(customer_offset, 19), (donation, 10)])
def test_support_reverses_what_a_customer_paid(funded_link, support_user, pay, km):
    txn = pay(funded_link)
    assert wallet_of(funded_link.customer).balance == 100 - km

    reversal = services.transaction_reverse_by_staff(transaction_id=txn.pk, staff=support_user, reason="charger fault")

    txn.refresh_from_db()
    assert txn.status == TransactionStatus.CANCELLED
    assert reversal.reverses_id == txn.pk
    assert wallet_of(funded_link.customer).balance == 100
    assert offsets_total() == 0
    assert_audited(
        action=AuditAction.TRANSACTION_REVERSE,
        object_id=str(txn.pk),
        balances_before={"KM": 100 - km, "USD": 0},
        balances_after={"KM": 100, "USD": 0},
    )


def test_finance_reverses_an_offset_the_partner_paid(partner, finance_user):
    txn = partner_offset(partner)
    assert billing_total(partner) == -19

    services.transaction_reverse_by_staff(transaction_id=txn.pk, staff=finance_user, reason="duplicate session")

    txn.refresh_from_db()
    assert txn.status == TransactionStatus.CANCELLED
    assert billing_total(partner) == 0
    assert offsets_total() == 0
    assert_audited(action=AuditAction.TRANSACTION_REVERSE, object_id=str(txn.pk), partner_id=partner.pk, customer_id=None)


def test_support_may_not_reverse_an_offset_the_partner_paid(partner, support_user):
    txn = partner_offset(partner)

    with pytest.raises(TransactionNotReversible):
        services.transaction_reverse_by_staff(transaction_id=txn.pk, staff=support_user, reason="duplicate session")

    txn.refresh_from_db()
    assert txn.status == TransactionStatus.CONFIRMED
    assert billing_total(partner) == -19
