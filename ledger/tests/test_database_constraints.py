"""The database itself refuses every ledger violation, with real commits (PostgreSQL triggers and constraints).

Each test writes around the services, straight through the ORM or SQL, as a buggy release or a
hand-typed query would, and asserts PostgreSQL refuses it.
"""

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.tests.factories import CustomerFactory, PartnerFactory, PartnerLinkFactory
from ledger import selectors, services
from ledger.models import Account, Entry, SystemAccount, Transaction, TransactionKind, TransactionStatus, Unit
from ledger.tests.helpers import grant, wallet_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def customer():
    return CustomerFactory()


@pytest.fixture
def issuance():
    return selectors.system_account_id(code=SystemAccount.KM_ISSUANCE)


def _sql(statement: str, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_unbalanced_transaction_is_refused_at_commit(customer, issuance):
    wallet = wallet_of(customer)

    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        txn = Transaction.objects.create(kind=TransactionKind.KM_GRANT, customer=customer)
        Entry.objects.create(transaction=txn, account=wallet, amount=10)
        Entry.objects.create(transaction=txn, account_id=issuance, amount=-9)

    assert Transaction.objects.count() == 0
    assert Entry.objects.count() == 0


def test_transaction_balanced_overall_but_not_per_unit_is_refused(customer, issuance):
    cents_wallet = wallet_of(customer, Unit.USD_CENTS)

    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        txn = Transaction.objects.create(kind=TransactionKind.KM_GRANT, customer=customer)
        Entry.objects.create(transaction=txn, account=cents_wallet, amount=10)
        Entry.objects.create(transaction=txn, account_id=issuance, amount=-10)

    assert Transaction.objects.count() == 0


@pytest.mark.parametrize("entries", [0, 1])
def test_transaction_with_fewer_than_two_entries_is_refused(customer, entries):
    with pytest.raises(IntegrityError, match="at least 2"), transaction.atomic():
        txn = Transaction.objects.create(kind=TransactionKind.KM_GRANT, customer=customer)
        if entries:
            # A single entry can only sum to zero with amount 0, which a CHECK refuses too: use two
            # entries on one account instead (+5, -5) would balance, so one entry of +5 it is.
            Entry.objects.create(transaction=txn, account=wallet_of(customer), amount=5)

    assert Transaction.objects.count() == 0


def test_entry_added_later_to_a_committed_transaction_is_refused(customer):
    grant(customer, 10)
    txn = Transaction.objects.get()

    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        Entry.objects.create(transaction=txn, account=wallet_of(customer), amount=1)

    assert txn.entries.count() == 2


def test_zero_amount_entry_is_refused(customer, issuance):
    with pytest.raises(IntegrityError, match="entry_amount_not_zero"), transaction.atomic():
        txn = Transaction.objects.create(kind=TransactionKind.KM_GRANT, customer=customer)
        Entry.objects.create(transaction=txn, account=wallet_of(customer), amount=0)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entry SET amount = amount + 1",
        "UPDATE ledger_entry SET account_id = account_id",
        "DELETE FROM ledger_entry",
    ],
)
def test_entries_cannot_be_updated_or_deleted(customer, statement):
    grant(customer, 10)

    with pytest.raises(IntegrityError, match="entries are immutable"):
        _sql(statement)

    assert sorted(Entry.objects.values_list("amount", flat=True)) == [-10, 10]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transaction SET reason = 'edited'",
        "UPDATE ledger_transaction SET status = 'CANCELLED'",  # no reversal exists
        "UPDATE ledger_transaction SET status = 'OPEN'",
        "DELETE FROM ledger_transaction",
    ],
)
def test_confirmed_transactions_cannot_be_changed_or_deleted(customer, statement):
    grant(customer, 10)

    with pytest.raises(IntegrityError, match="transactions are immutable"):
        _sql(statement)

    txn = Transaction.objects.get()
    assert (txn.status, txn.reason) == (TransactionStatus.CONFIRMED, "test grant")


def test_cancelled_transaction_cannot_be_changed_back_or_edited(customer, admin_user):
    grant(customer, 10)
    original = Transaction.objects.get()
    services.transaction_reverse(transaction_id=original.pk, reversed_by=admin_user, reason="mistake")

    for statement in (
        "UPDATE ledger_transaction SET status = 'CONFIRMED' WHERE id = %s",
        "UPDATE ledger_transaction SET reason = 'x' WHERE id = %s",
        "DELETE FROM ledger_transaction WHERE id = %s",
    ):
        with pytest.raises(IntegrityError, match="transactions are immutable"):
            _sql(statement, [original.pk])

    original.refresh_from_db()
    assert original.status == TransactionStatus.CANCELLED


def test_status_change_together_with_another_column_is_refused(customer, admin_user):
    grant(customer, 10)
    original = Transaction.objects.get()
    services.transaction_reverse(transaction_id=original.pk, reversed_by=admin_user, reason="mistake")
    payment = Transaction.objects.filter(kind=TransactionKind.REVERSAL).get()

    with pytest.raises(IntegrityError, match="transactions are immutable"):
        _sql("UPDATE ledger_transaction SET status = 'CANCELLED', reason = 'x' WHERE id = %s", [payment.pk])


def test_wallet_balance_cannot_go_negative(customer):
    grant(customer, 10)

    with pytest.raises(IntegrityError, match="wallet_balance_within_credit_limit"):
        _sql("UPDATE ledger_account SET balance = balance - 11 WHERE customer_id = %s AND unit = 'KM'", [customer.pk])

    assert wallet_of(customer).balance == 10


def test_a_cents_wallet_goes_down_to_minus_its_credit_limit_and_no_further(customer):
    _sql("UPDATE ledger_account SET credit_limit = 500 WHERE customer_id = %s AND unit = 'USD'", [customer.pk])

    _sql("UPDATE ledger_account SET balance = -500 WHERE customer_id = %s AND unit = 'USD'", [customer.pk])
    with pytest.raises(IntegrityError, match="wallet_balance_within_credit_limit"):
        _sql("UPDATE ledger_account SET balance = -501 WHERE customer_id = %s AND unit = 'USD'", [customer.pk])

    assert wallet_of(customer, Unit.USD_CENTS).balance == -500


def test_a_kilometer_wallet_never_gets_credit(customer):
    with pytest.raises(IntegrityError, match="credit_limit_cents_wallets_only"):
        _sql("UPDATE ledger_account SET credit_limit = 10 WHERE customer_id = %s AND unit = 'KM'", [customer.pk])


def _pay(customer, partner, amount, external_id):
    link = PartnerLinkFactory(partner=partner, customer=customer)
    return services.charging_session_pay(
        partner_code=partner.code,
        access_key_id=None,
        external_user_id=link.external_user_id,
        external_id=external_id,
        kilometer=amount,
        service_data={},
    )


def test_partner_transaction_id_is_unique_per_partner(customer):
    partner, other = PartnerFactory(), PartnerFactory()
    grant(customer, 10)
    _pay(customer, partner, 3, "T-1")

    # Written around the service: the unique index refuses the row at the INSERT.
    with pytest.raises(IntegrityError, match="transaction_partner_external_id_unique"), transaction.atomic():
        Transaction.objects.create(kind=TransactionKind.PAY_FOR_CHARGING_SESSION, partner=partner, external_id="T-1")

    _pay(customer, other, 2, "T-1")  # another partner may use the same id
    assert sorted(Transaction.objects.filter(external_id="T-1").values_list("partner__code", flat=True)) == sorted(
        [partner.code, other.code]
    )
    assert wallet_of(customer).balance == 5


def test_a_transaction_is_reversed_at_most_once(customer, admin_user, issuance):
    grant(customer, 10)
    original = Transaction.objects.get()
    services.transaction_reverse(transaction_id=original.pk, reversed_by=admin_user, reason="first")

    # A second reversal written around the service: the UNIQUE reverses_id refuses it.
    with pytest.raises(IntegrityError, match="reverses_id"), transaction.atomic():
        second = Transaction.objects.create(
            kind=TransactionKind.REVERSAL, customer=customer, reverses=original, created_by=admin_user, reason="second"
        )
        Entry.objects.create(transaction=second, account=wallet_of(customer), amount=-10)
        Entry.objects.create(transaction=second, account_id=issuance, amount=10)

    assert Transaction.objects.filter(kind=TransactionKind.REVERSAL).count() == 1
    assert wallet_of(customer).balance == 0


def test_account_shape_is_enforced(customer):
    with pytest.raises(IntegrityError, match="account_kind_shape"), transaction.atomic():
        Account.objects.create(kind="WALLET", unit=Unit.KM, balance=None, customer=customer)
