import pytest
from django.db import connection

from accounts.tests.factories import CustomerFactory
from core.errors import InvalidParameter, ObjectNotFound
from ledger import services
from ledger.models import AccountKind, Transaction, TransactionKind
from ledger.tests.helpers import grant, wallet_of


@pytest.mark.parametrize("km", [0, -1, True, 1.5, "10"])
def test_grant_refuses_a_bad_amount(db, km):
    customer = CustomerFactory()

    with pytest.raises(InvalidParameter):
        services.kilometers_grant(customer=customer, kilometer=km, reason="x")

    assert wallet_of(customer).balance == 0
    assert not Transaction.objects.exists()


def test_grant_needs_a_reason(db):
    customer = CustomerFactory()

    with pytest.raises(InvalidParameter):
        services.kilometers_grant(customer=customer, kilometer=5, reason="  ")

    assert wallet_of(customer).balance == 0


def test_reverse_needs_a_reason_and_an_existing_transaction(db, admin_user):
    customer = CustomerFactory()
    grant(customer, 5)
    txn = Transaction.objects.get()

    with pytest.raises(InvalidParameter):
        services.transaction_reverse(transaction_id=txn.pk, reversed_by=admin_user, reason="")
    with pytest.raises(ObjectNotFound):
        services.transaction_reverse(transaction_id=txn.pk + 1000, reversed_by=admin_user, reason="x")

    assert wallet_of(customer).balance == 5
    assert not Transaction.objects.filter(kind=TransactionKind.REVERSAL).exists()


def test_post_refuses_unbalanced_postings_before_touching_the_database(db):
    customer = CustomerFactory()

    with pytest.raises(ValueError, match="do not balance"):
        services.transaction_post(
            kind=TransactionKind.KM_GRANT,
            postings=[services.Posting(wallet_of(customer).pk, 5), services.Posting(wallet_of(customer, "USD").pk, -5)],
        )

    assert not Transaction.objects.exists()


def _account_row_versions() -> dict[int, tuple[str, str]]:
    """Every ledger account row's (xmin, xmax): an UPDATE changes xmin, FOR UPDATE / FOR SHARE set xmax."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text, xmax::text FROM ledger_account")
        return {pk: (xmin, xmax) for pk, xmin, xmax in cursor.fetchall()}


def test_payment_locks_and_updates_only_the_customer_wallet_row(db, link, seed_request):
    """The shared partner account is never locked or updated (its cached balance stays NULL)."""
    grant(link.customer, 50)
    wallet = wallet_of(link.customer)
    before = _account_row_versions()

    services.charging_session_pay(
        partner_code=link.partner.code,
        access_key_id=None,
        external_user_id="pcsUserId001",
        external_id="t1",
        kilometer=7,
        service_data=seed_request["serviceSpecificData"],
    )

    after = _account_row_versions()
    assert {pk for pk, versions in before.items() if after[pk] != versions} == {wallet.pk}
    partner_account = link.partner.accounts.get(kind=AccountKind.PARTNER)
    assert partner_account.balance is None
    assert wallet_of(link.customer).balance == 43
