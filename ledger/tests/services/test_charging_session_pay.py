"""charging_session_pay: the kilometer payment, one database round trip (ledger/sql/charging_session_pay.sql).

Called as the API calls it, with the token's API key (checked in the same statement as the posting), and as a
trusted in-process caller without one (the partner named by its code). Concurrency cases run with real commits
and real threads.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from accounts import services as accounts_services
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from core.errors import AuthorizationInvalid, InsufficientBalance, ObjectNotFound, TransactionAlreadyProcessed
from ledger import services
from ledger.models import Account, AccountKind, Entry, Transaction, TransactionKind, TransactionStatus
from ledger.tests.helpers import grant, wallet_of


@pytest.fixture
def key(api_key):
    return api_key[0]


def pay(key, *, partner_code="PCS-001", user="pcsUserId001", txn_id="t1", km=7, ssd=None, **kwargs):
    return services.charging_session_pay(
        access_key_id=key.access_key_id,
        partner_code=partner_code,
        external_user_id=user,
        external_id=txn_id,
        kilometer=km,
        service_data=ssd or {"EVSE_ID": "DE*911E12345", "CITY": "Eschborn", "STREET": "Kölner Straße"},
        **kwargs,
    )


def snapshot() -> dict:
    return {
        "wallets": dict(Account.objects.filter(kind=AccountKind.WALLET).values_list("pk", "balance")),
        "transactions": sorted(Transaction.objects.values_list("pk", flat=True)),
        "entries": Entry.objects.count(),
    }


def statements(queries) -> list[str]:
    """The captured SQL without the savepoint a test's transaction puts around the call."""
    return [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_a_payment_is_exactly_one_round_trip(key, funded_link):
    """As the API calls it (no transaction open): one statement, which is its own transaction, and no savepoint."""
    with CaptureQueriesContext(connection) as queries:
        pay(key)

    assert len(queries) == 1
    assert "ledger_charging_session_pay" in queries[0]["sql"]
    assert wallet_of(funded_link.customer).balance == 93


def test_a_payment_is_one_statement_and_records_every_field(key, funded_link):
    with CaptureQueriesContext(connection) as queries:
        txn = pay(key, km=38, reference="ref-1")

    assert len(statements(queries)) == 1
    assert wallet_of(funded_link.customer).balance == 62
    stored = Transaction.objects.get(pk=txn.pk)
    assert (stored.kind, stored.status, stored.customer_id, stored.partner_id) == (
        TransactionKind.PAY_FOR_CHARGING_SESSION,
        TransactionStatus.CONFIRMED,
        funded_link.customer_id,
        funded_link.partner_id,
    )
    assert (stored.external_id, stored.reference, stored.evse_id) == ("t1", "ref-1", "DE*911E12345")
    assert stored.service_data == {"EVSE_ID": "DE*911E12345", "CITY": "Eschborn", "STREET": "Kölner Straße"}
    assert stored.created_at == txn.created_at
    entries = sorted(stored.entries.values_list("account__kind", "amount"))
    assert entries == [(AccountKind.PARTNER, 38), (AccountKind.WALLET, -38)]
    # What the API renders comes back without another query.
    assert (txn.partner.name, txn.wallet_amount, txn.status) == ("MSP Partner", -38, TransactionStatus.CONFIRMED)


def test_the_partner_account_row_is_neither_updated_nor_locked(key, funded_link):
    partner_account = funded_link.partner.accounts.get(kind=AccountKind.PARTNER)

    def row_versions():
        with connection.cursor() as cursor:
            cursor.execute("SELECT xmin::text, xmax::text FROM ledger_account WHERE id = %s", [partner_account.pk])
            return cursor.fetchone()

    before = row_versions()
    pay(key)

    assert row_versions() == before  # an UPDATE changes xmin; FOR UPDATE / FOR SHARE set xmax
    partner_account.refresh_from_db()
    assert partner_account.balance is None


def test_an_existing_transaction_id_is_already_processed(key, funded_link):
    pay(key, txn_id="dup")
    before = snapshot()

    with pytest.raises(TransactionAlreadyProcessed) as caught:
        pay(key, txn_id="dup", user="nobody", km=10**6)  # 409 comes before 404 and 422

    assert caught.value.args == ("dup",)
    assert snapshot() == before


@pytest.mark.parametrize("confirmed", [False, None], ids=["initial-link", "no-link"])
def test_a_user_without_a_confirmed_link_is_not_found(key, partner, confirmed):
    customer = CustomerFactory()
    grant(customer, 100)
    if confirmed is not None:
        PartnerLinkFactory(partner=partner, customer=customer, external_user_id="pending", confirmed=confirmed)
    before = snapshot()

    with pytest.raises(ObjectNotFound) as caught:
        pay(key, user="pending", km=10**6)  # 404 comes before 422

    assert caught.value.args == ("user", "pending")
    assert snapshot() == before


def test_insufficient_balance_reports_available_and_requested_and_writes_nothing(key, funded_link):
    """The transaction row is inserted before the debit is refused; the refusal undoes it (here: its savepoint,
    and the caller's transaction goes on)."""
    before = snapshot()

    with pytest.raises(InsufficientBalance) as caught:
        pay(key, km=101)

    assert caught.value.args == (100, 101)
    assert snapshot() == before  # also proves the caller's transaction is still usable
    assert not Transaction.objects.filter(external_id="t1").exists()
    pay(key, km=100)  # the refused id was not consumed
    assert wallet_of(funded_link.customer).balance == 0


def test_a_revoked_key_pays_nothing(key, funded_link):
    accounts_services.api_key_revoke(key=key)
    before = snapshot()

    with pytest.raises(AuthorizationInvalid):
        pay(key)

    assert snapshot() == before


def test_an_inactive_partner_pays_nothing(key, funded_link):
    funded_link.partner.is_active = False
    funded_link.partner.save(update_fields=["is_active"])

    with pytest.raises(AuthorizationInvalid):
        pay(key)

    assert wallet_of(funded_link.customer).balance == 100


def test_a_key_named_with_another_partners_code_pays_nothing(key, funded_link, other_partner):
    PartnerLinkFactory(partner=other_partner, customer=funded_link.customer, external_user_id="pcsUserId001")

    with pytest.raises(AuthorizationInvalid):
        pay(key, partner_code="PCS-002")

    assert wallet_of(funded_link.customer).balance == 100


def test_the_same_id_at_another_partner_is_not_a_duplicate(key, funded_link, other_partner):
    PartnerLinkFactory(partner=other_partner, customer=funded_link.customer, external_user_id="other")
    services.charging_session_pay(
        partner_code=other_partner.code,
        access_key_id=None,
        external_user_id="other",
        external_id="t1",
        kilometer=10,
        service_data={},
    )

    pay(key, txn_id="t1", km=5)

    assert wallet_of(funded_link.customer).balance == 85


# --- Concurrency: real commits, real threads, one connection each ---------------------------------------------


def _concurrently(calls: list) -> list:
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=30)
            return call()
        except Exception as error:
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_an_insufficient_balance_leaves_nothing_behind(key, funded_link):
    before = snapshot()

    with pytest.raises(InsufficientBalance) as caught:
        pay(key, km=101)

    assert caught.value.args == (100, 101)
    assert snapshot() == before
    assert pay(key, km=100).external_id == "t1"  # the refused id was not consumed


@pytest.mark.django_db(transaction=True)
def test_30_concurrent_debits_of_7_km_on_a_100_km_wallet(key, link):
    grant(link.customer, 100)

    results = _concurrently([lambda i=i: pay(key, txn_id=f"c-{i}") for i in range(30)])

    paid = [r for r in results if isinstance(r, Transaction)]
    refused = [r for r in results if isinstance(r, InsufficientBalance)]
    assert (len(paid), len(refused)) == (14, 16)
    assert all(0 <= r.args[0] < 7 and r.args[1] == 7 for r in refused)
    assert wallet_of(link.customer).balance == 2
    assert Entry.objects.aggregate(total=Sum("amount"))["total"] == 0


@pytest.mark.django_db(transaction=True)
def test_one_transaction_id_sent_concurrently_for_different_users_pays_once(key, partner):
    """Each request locks a different wallet, so they meet only at the unique index: one pays, the others
    find its transaction and give their debit back."""
    links = [PartnerLinkFactory(partner=partner, external_user_id=f"racer{i}") for i in range(8)]
    for each in links:
        grant(each.customer, 50)

    results = _concurrently([lambda u=each.external_user_id: pay(key, user=u, txn_id="same", km=5) for each in links])

    assert sum(isinstance(r, Transaction) for r in results) == 1
    assert sum(isinstance(r, TransactionAlreadyProcessed) for r in results) == 7
    balances = sorted(wallet_of(each.customer).balance for each in links)
    assert balances == [45] + [50] * 7
    assert Transaction.objects.filter(kind=TransactionKind.PAY_FOR_CHARGING_SESSION).count() == 1
    for each in links:  # every cached balance still equals its entries
        wallet = wallet_of(each.customer)
        assert Entry.objects.filter(account=wallet).aggregate(total=Sum("amount"))["total"] == wallet.balance


@pytest.mark.django_db(transaction=True)
def test_one_transaction_id_sent_concurrently_on_an_almost_empty_wallet_is_409_not_422(key, link):
    """The losers wait for the wallet's lock; when they get it the balance is too low, but the id was taken:
    409 comes before 422."""
    grant(link.customer, 5)

    results = _concurrently([lambda: pay(key, txn_id="only-once", km=5) for _ in range(10)])

    assert sum(isinstance(r, Transaction) for r in results) == 1
    assert sum(isinstance(r, TransactionAlreadyProcessed) for r in results) == 9
    assert wallet_of(link.customer).balance == 0


def test_no_partner_only_index_can_take_the_duplicate_checks_place(db):
    """Measured in the load benchmark: with statistics from before the partner's first payment (and this server's
    autovacuum off), the planner preferred a partner-only index for `partner_id = ? AND external_id = ?` and read the
    partner's whole history on every payment (13.7 ms at 60 000 payments, against 0.07 ms on the unique index)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ledger_transaction' AND indexdef LIKE %s",
            ["%(partner_id)%"],
        )
        partner_only = cursor.fetchall()

    assert partner_only == []


# --- A trusted in-process caller: no API key, the partner named by its code ------------------------------------


def pay_in_process(*, partner_code="PCS-001", user="pcsUserId001", txn_id="t1", km=7, **kwargs):
    return services.charging_session_pay(
        partner_code=partner_code,
        access_key_id=None,
        external_user_id=user,
        external_id=txn_id,
        kilometer=km,
        service_data={"EVSE_ID": "DE*911E12345", "CITY": "Eschborn", "STREET": "Kölner Straße"},
        **kwargs,
    )


@pytest.mark.django_db(transaction=True)
def test_an_in_process_caller_pays_without_a_key_in_one_round_trip(funded_link):
    with CaptureQueriesContext(connection) as queries:
        txn = pay_in_process(km=38, reference="ref-1")

    assert len(queries) == 1
    assert "ledger_charging_session_pay" in queries[0]["sql"]
    assert wallet_of(funded_link.customer).balance == 62
    stored = Transaction.objects.get(pk=txn.pk)
    assert (stored.kind, stored.status, stored.customer_id, stored.partner_id) == (
        TransactionKind.PAY_FOR_CHARGING_SESSION,
        TransactionStatus.CONFIRMED,
        funded_link.customer_id,
        funded_link.partner_id,
    )
    assert (stored.external_id, stored.reference, stored.evse_id) == ("t1", "ref-1", "DE*911E12345")
    assert sorted(stored.entries.values_list("account__kind", "amount")) == [(AccountKind.PARTNER, 38), (AccountKind.WALLET, -38)]
    assert (txn.partner.code, txn.partner.name, txn.wallet_amount) == ("PCS-001", "MSP Partner", -38)


@pytest.mark.parametrize("code", ["PCS-999", "pcs-001"], ids=["unknown", "case-differs"])
def test_an_in_process_caller_naming_no_partner_pays_nothing(funded_link, code):
    before = snapshot()

    with pytest.raises(ObjectNotFound) as caught:
        pay_in_process(partner_code=code)

    assert caught.value.args == ("partner", code)
    assert snapshot() == before


def test_an_in_process_caller_cannot_pay_for_an_inactive_partner(funded_link):
    funded_link.partner.is_active = False
    funded_link.partner.save(update_fields=["is_active"])
    before = snapshot()

    with pytest.raises(ObjectNotFound) as caught:
        pay_in_process()

    assert caught.value.args == ("partner", "PCS-001")
    assert snapshot() == before


def test_an_empty_key_is_checked_like_any_key_not_trusted(funded_link):
    """Only None means an in-process caller."""
    with pytest.raises(AuthorizationInvalid):
        services.charging_session_pay(
            partner_code="PCS-001",
            access_key_id="",
            external_user_id="pcsUserId001",
            external_id="t1",
            kilometer=7,
            service_data={},
        )

    assert wallet_of(funded_link.customer).balance == 100
    assert not Transaction.objects.filter(external_id="t1").exists()


@pytest.mark.django_db(transaction=True)
def test_in_process_an_existing_id_is_409_before_404_and_before_422(funded_link):
    pay_in_process(txn_id="dup")
    before = snapshot()

    with pytest.raises(TransactionAlreadyProcessed) as unlinked:
        pay_in_process(txn_id="dup", user="nobody", km=10**6)  # no link: found by the lookup that chooses 409 or 404
    with pytest.raises(TransactionAlreadyProcessed) as linked:
        pay_in_process(txn_id="dup", km=10**6)  # linked: found by the insert, before the debit

    assert unlinked.value.args == linked.value.args == ("dup",)
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("confirmed", [False, None], ids=["initial-link", "no-link"])
def test_in_process_a_user_without_a_confirmed_link_is_404(partner, confirmed):
    customer = CustomerFactory()
    grant(customer, 100)
    if confirmed is not None:
        PartnerLinkFactory(partner=partner, customer=customer, external_user_id="pending", confirmed=confirmed)
    before = snapshot()

    with pytest.raises(ObjectNotFound) as caught:
        pay_in_process(user="pending", km=10**6)  # 404 comes before 422

    assert caught.value.args == ("user", "pending")
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_in_process_an_insufficient_balance_is_422_and_does_not_consume_the_id(funded_link):
    before = snapshot()

    with pytest.raises(InsufficientBalance) as caught:
        pay_in_process(km=101)

    assert caught.value.args == (100, 101)
    assert snapshot() == before
    assert pay_in_process(km=100).external_id == "t1"
    assert wallet_of(funded_link.customer).balance == 0


@pytest.mark.django_db(transaction=True)
def test_inside_the_callers_transaction_a_payment_commits_and_rolls_back_with_it(funded_link):
    """In the caller's transaction.atomic the statement runs in a savepoint: a refusal leaves the caller's
    transaction usable, and the payment is undone if the caller's transaction is."""
    before = snapshot()

    class CallerFailed(Exception):
        pass

    with pytest.raises(CallerFailed), transaction.atomic():
        pay_in_process(txn_id="undone", km=10)
        assert wallet_of(funded_link.customer).balance == 90
        raise CallerFailed

    assert snapshot() == before
    with transaction.atomic():
        with pytest.raises(InsufficientBalance):
            pay_in_process(txn_id="t2", km=101)
        pay_in_process(txn_id="t2", km=10)
    assert wallet_of(funded_link.customer).balance == 90
    assert list(Transaction.objects.filter(external_id__in=["undone", "t2"]).values_list("external_id", flat=True)) == ["t2"]


@pytest.mark.django_db(transaction=True)
def test_in_process_one_transaction_id_sent_concurrently_for_different_users_pays_once(partner):
    links = [PartnerLinkFactory(partner=partner, external_user_id=f"racer{i}") for i in range(8)]
    for each in links:
        grant(each.customer, 50)

    results = _concurrently([lambda u=each.external_user_id: pay_in_process(user=u, txn_id="same", km=5) for each in links])

    assert sum(isinstance(r, Transaction) for r in results) == 1
    assert sum(isinstance(r, TransactionAlreadyProcessed) for r in results) == 7
    assert sorted(wallet_of(each.customer).balance for each in links) == [45] + [50] * 7
    assert Transaction.objects.filter(kind=TransactionKind.PAY_FOR_CHARGING_SESSION).count() == 1


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first_ends", ["commit", "rollback"])
def test_a_duplicate_waits_for_the_same_id_in_flight_then_follows_its_outcome(funded_link, first_ends):
    """A request whose id another request has inserted but not committed waits on the unique index: if the
    first commits, the second is 409; if the first is undone (here its caller's transaction), the id was
    never taken and the second pays."""
    inserted, release = threading.Event(), threading.Event()

    class CallerFailed(Exception):
        pass

    def first():
        try:
            with transaction.atomic():
                pay_in_process(txn_id="same", km=5)
                inserted.set()
                assert release.wait(timeout=30)
                if first_ends == "rollback":
                    raise CallerFailed
            return "committed"
        except CallerFailed:
            return "rolled back"
        finally:
            connections.close_all()

    def second():
        try:
            assert inserted.wait(timeout=30)
            return pay_in_process(txn_id="same", km=7)
        except TransactionAlreadyProcessed as error:
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first_result, second_result = pool.submit(first), pool.submit(second)
        deadline = time.monotonic() + 30
        while _waiting_for_a_lock() == 0:  # the second request is blocked on the first one's row
            assert time.monotonic() < deadline, "the duplicate never waited"
            time.sleep(0.02)
        release.set()
        first_outcome, second_outcome = first_result.result(timeout=30), second_result.result(timeout=30)

    if first_ends == "commit":
        assert first_outcome == "committed"
        assert isinstance(second_outcome, TransactionAlreadyProcessed)
        assert wallet_of(funded_link.customer).balance == 95
    else:
        assert first_outcome == "rolled back"
        assert isinstance(second_outcome, Transaction)
        assert wallet_of(funded_link.customer).balance == 93
    assert Transaction.objects.filter(external_id="same").count() == 1
    assert Entry.objects.aggregate(total=Sum("amount"))["total"] == 0
