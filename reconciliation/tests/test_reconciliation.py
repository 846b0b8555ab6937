"""Reconciliation: each finding kind is injected alone (straight into the database where the application would
never produce it, or into the gateway's batch file) and found alone; a clean day has none; reruns are
idempotent; resolved stays resolved; fixed auto-closes; the command's exit status and summary."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import CustomerFactory
from gateways import services
from gateways.models import CardCharge, ChargeStatus
from ledger import services as ledger_services
from ledger.models import SystemAccount, Transaction, TransactionKind, Unit
from ledger.tests.helpers import grant, wallet_of
from reconciliation.models import FindingStatus, ReconciliationFinding
from reconciliation.services import finding_resolve, reconcile
from reconciliation.tests.helpers import rows_of as _rows_of
from reconciliation.tests.helpers import settled_day as _settled_day
from reconciliation.tests.helpers import today as _today
from reconciliation.tests.helpers import upload as _upload

pytestmark = pytest.mark.usefixtures("gateway_settings")


@pytest.fixture
def export_url(gateway_settings, sandbox):
    gateway_settings.GATEWAY_BATCH_EXPORT_URL = sandbox.base_url + "/_sandbox/batches/{cycle_code}.csv"


@pytest.fixture
def unguarded_ledger(db):
    """Switch off the database's ledger guards for this test's transaction only (DDL rolls back with it), so a
    test can write what the application never could. Must run before anything else writes the ledger."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE ledger_transaction DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE ledger_account DROP CONSTRAINT wallet_balance_within_credit_limit")
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'ledger_transaction'::regclass AND contype = 'u'"
            " AND pg_get_constraintdef(oid) LIKE '%%reverses_id%%'"
        )
        cursor.execute(f'ALTER TABLE ledger_transaction DROP CONSTRAINT "{cursor.fetchone()[0]}"')


def _kinds(run=None) -> list[str]:
    return sorted(ReconciliationFinding.objects.filter(status=FindingStatus.OPEN).values_list("kind", flat=True))


def test_a_clean_day_has_no_findings(export_url, service_account, hop_customer):
    _settled_day(service_account, hop_customer)
    grant(CustomerFactory(), 100)

    run = reconcile(business_date=_today())

    assert _kinds() == []
    assert run.summary["seen"] == {}


# --- ledger checks -----------------------------------------------------------------------------


def test_unbalanced_transaction(unguarded_ledger, export_url):
    customer = CustomerFactory()
    grant(customer, 100)
    txn = Transaction.objects.get()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount) VALUES (%s, %s, 5)", [txn.pk, wallet_of(customer).pk]
        )
        cursor.execute("UPDATE ledger_account SET balance = balance + 5 WHERE id = %s", [wallet_of(customer).pk])

    reconcile(business_date=_today())

    assert _kinds() == ["unbalanced_transaction"]
    finding = ReconciliationFinding.objects.get()
    assert (finding.involved, finding.actual_amount) == ({"transaction": txn.pk, "unit": "KM"}, 5)


def test_transaction_without_entries(unguarded_ledger, export_url):
    txn = Transaction.objects.create(kind=TransactionKind.KM_GRANT)

    reconcile(business_date=_today())

    assert _kinds() == ["too_few_entries"]
    assert ReconciliationFinding.objects.get().involved == {"transaction": txn.pk}


def test_cached_balance_differs_from_entries(export_url, db):
    customer = CustomerFactory()
    grant(customer, 100)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = 90 WHERE id = %s", [wallet_of(customer).pk])

    reconcile(business_date=_today())

    assert _kinds() == ["wallet_balance_mismatch"]
    finding = ReconciliationFinding.objects.get()
    assert (finding.expected_amount, finding.actual_amount) == (100, 90)


def test_negative_wallet(unguarded_ledger, export_url):
    customer = CustomerFactory()
    issuance = ledger_services.selectors.system_account_id(code=SystemAccount.KM_ISSUANCE)
    txn = Transaction.objects.create(kind=TransactionKind.KM_GRANT, customer=customer)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = -3 WHERE id = %s", [wallet_of(customer).pk])
        # the cached balance equals its entries, so only the negative balance is wrong
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount) VALUES (%s, %s, -3)", [txn.pk, wallet_of(customer).pk]
        )
        cursor.execute("INSERT INTO ledger_entry (transaction_id, account_id, amount) VALUES (%s, %s, 3)", [txn.pk, issuance])

    reconcile(business_date=_today())

    assert _kinds() == ["negative_wallet"]


def test_a_cents_wallet_on_credit_is_a_finding_only_below_its_limit(unguarded_ledger, export_url, partner):
    on_credit, past_it = CustomerFactory(), CustomerFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_account SET credit_limit = 500 WHERE customer_id IN (%s, %s) AND unit = 'USD'",
            [on_credit.pk, past_it.pk],
        )
    ledger_services.cents_wallet_move(
        kind=TransactionKind.PURCHASE,
        customer_id=on_credit.pk,
        partner=partner,
        amount_cents=-500,
        counterpart=SystemAccount.USD_VENUE_SALES,
        use_credit=True,
    )
    # Past the limit only by an unguarded write (the CHECK is off here), its entries agreeing with the balance.
    sales = ledger_services.selectors.system_account_id(code=SystemAccount.USD_VENUE_SALES)
    txn = Transaction.objects.create(kind=TransactionKind.PURCHASE, customer=past_it, partner=partner)
    wallet = wallet_of(past_it, Unit.USD_CENTS)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = -501 WHERE id = %s", [wallet.pk])
        cursor.execute("INSERT INTO ledger_entry (transaction_id, account_id, amount) VALUES (%s, %s, -501)", [txn.pk, wallet.pk])
        cursor.execute("INSERT INTO ledger_entry (transaction_id, account_id, amount) VALUES (%s, %s, 501)", [txn.pk, sales])

    reconcile(business_date=_today())

    assert _kinds() == ["negative_wallet"]
    assert ReconciliationFinding.objects.get().involved == {"account": wallet.pk, "customer": past_it.pk}


def test_transaction_reversed_twice(unguarded_ledger, export_url, admin_user):
    customer = CustomerFactory()
    grant(customer, 100)
    original = Transaction.objects.get()
    ledger_services.transaction_reverse(transaction_id=original.pk, reversed_by=admin_user, reason="first")
    second = Transaction.objects.create(
        kind=TransactionKind.REVERSAL, customer=customer, reverses=original, created_by=admin_user, reason="2"
    )
    first_reversal = Transaction.objects.get(reverses=original, reason="first")
    for entry in first_reversal.entries.all():
        second.entries.create(account_id=entry.account_id, amount=entry.amount)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = -100 WHERE id = %s", [wallet_of(customer).pk])

    reconcile(business_date=_today())

    assert _kinds() == ["negative_wallet", "reversed_twice"]  # the second reversal also overdrew the wallet
    assert ReconciliationFinding.objects.get(kind="reversed_twice").involved == {"transaction": original.pk}


# --- card checks ----------------------------------------------------------------------------------


def test_authorization_older_than_the_capture_window(export_url, service_account, hop_customer):
    charge = services.card_charge_create(requested_by=service_account, customer=hop_customer, amount_cents=500)
    CardCharge.objects.filter(pk=charge.pk).update(authorized_at=timezone.now() - timedelta(hours=25))

    reconcile(business_date=_today())

    assert _kinds() == ["stale_authorization"]


def test_receivable_differs_from_captured_charges(export_url, service_account, hop_customer):
    charge = services.card_charge_create(requested_by=service_account, customer=hop_customer, amount_cents=500)
    services.card_charge_capture(charge_id=charge.pk)
    ledger_services.card_funds_move(  # a stray movement nobody can explain
        kind=TransactionKind.CARD_CAPTURE,
        customer_id=hop_customer.pk,
        amount_cents=50,
        source=SystemAccount.USD_CARD_AUTHORIZED,
        target=SystemAccount.USD_CARD_RECEIVABLE,
    )

    reconcile(business_date=_today())

    assert _kinds() == ["receivable_mismatch"]
    finding = ReconciliationFinding.objects.get()
    assert (finding.expected_amount, finding.actual_amount) == (500, 550)


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        (lambda rows: rows[:1], "missing_at_gateway"),
        (lambda rows: [*rows, ("999999999", "x", 100, "sale")], "missing_in_ledger"),
        (lambda rows: [(rows[0][0], rows[0][1], rows[0][2] + 1, "sale"), rows[1]], "amount_mismatch"),
        (lambda rows: [(rows[0][0], rows[0][1], rows[0][2], "refund"), rows[1]], "status_mismatch"),
        (lambda rows: [rows[0], rows[0], rows[1]], "duplicate_at_gateway"),
    ],
)
def test_gateway_batch_discrepancies(export_url, service_account, hop_customer, admin_user, tamper, kind):
    charges, batch = _settled_day(service_account, hop_customer)
    _upload(batch, tamper(_rows_of(charges)), admin_user)

    reconcile(business_date=_today())

    assert _kinds() == [kind]
    assert ReconciliationFinding.objects.get().involved["batch"] == batch.cycle_code


def test_sandbox_export_is_used_when_nothing_was_uploaded(export_url, sandbox, service_account, hop_customer):
    charges, _ = _settled_day(service_account, hop_customer)
    CardCharge.objects.filter(pk=charges[0].pk).update(amount_authorized=499)  # our side now disagrees with the export

    reconcile(business_date=_today())

    assert "amount_mismatch" in _kinds()


def test_unreachable_batch_export(gateway_settings, service_account, hop_customer):
    _settled_day(service_account, hop_customer)
    gateway_settings.GATEWAY_BATCH_EXPORT_URL = "http://127.0.0.1:1/{cycle_code}.csv"

    reconcile(business_date=_today())

    assert _kinds() == ["batch_unavailable"]


# --- runs -----------------------------------------------------------------------------------------


def test_rerun_is_idempotent_resolved_stays_resolved_and_fixed_auto_closes(export_url, db, admin_user):
    customer, other = CustomerFactory(), CustomerFactory()
    grant(customer, 100)
    grant(other, 100)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_account SET balance = 90 WHERE id IN (%s, %s)", [wallet_of(customer).pk, wallet_of(other).pk]
        )
    first = reconcile(business_date=_today())
    second = reconcile(business_date=_today())

    assert ReconciliationFinding.objects.count() == 2
    assert set(ReconciliationFinding.objects.values_list("last_run", flat=True)) == {second.pk}
    assert set(ReconciliationFinding.objects.values_list("first_run", flat=True)) == {first.pk}

    resolved = ReconciliationFinding.objects.get(involved__customer=customer.pk)
    finding_resolve(finding_id=resolved.pk, resolved_by=admin_user, note="known: migration fix pending")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = 100 WHERE id = %s", [wallet_of(other).pk])  # fixed
    reconcile(business_date=_today())

    statuses = dict(ReconciliationFinding.objects.values_list("involved__customer", "status"))
    assert statuses == {customer.pk: FindingStatus.RESOLVED, other.pk: FindingStatus.AUTO_CLOSED}
    assert ReconciliationFinding.objects.count() == 2


def test_resolving_needs_a_note(unguarded_ledger, export_url, admin_user):
    Transaction.objects.create(kind=TransactionKind.KM_GRANT)
    reconcile(business_date=_today())
    finding = ReconciliationFinding.objects.get()

    with pytest.raises(Exception, match="INVALID_PARAMETER"):
        finding_resolve(finding_id=finding.pk, resolved_by=admin_user, note=" ")

    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN


def test_command_summary_and_exit_status(unguarded_ledger, export_url):
    clean = StringIO()
    call_command("reconcile", "--date", _today().isoformat(), "--json", stdout=clean)
    assert json.loads(clean.getvalue())["openErrors"] == 0

    Transaction.objects.create(kind=TransactionKind.KM_GRANT)
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("reconcile", "--date", _today().isoformat(), "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["openErrors"] == 1
    assert summary["seen"] == {"too_few_entries": 1}
    assert failed.value.returncode == 2

    with pytest.raises(CommandError, match="INVALID_PARAMETER"):
        call_command("reconcile", "--date", "21/11/2026", stdout=StringIO())


def test_settled_charges_stay_settled(export_url, service_account, hop_customer):
    charges, _ = _settled_day(service_account, hop_customer)
    assert {c.status for c in charges} == {ChargeStatus.SETTLED}
