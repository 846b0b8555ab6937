"""CSV exports of the back-office lists (transactions, card charges, refused attempts, findings, audit log): the
filtered list's rows and nothing else, money as plain numbers that add up, streamed, audited; a role that cannot
read the list cannot export it; a cell a spreadsheet would run as a formula is defused."""

import csv
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditLog
from accounts.tests.factories import PartnerLinkFactory
from backoffice.models import RefusedAttempt
from gateways.models import ChargeStatus
from gateways.tests.factories import CardChargeFactory
from ledger.tests.factories import SessionPaymentFactory
from ledger.tests.helpers import grant
from reconciliation.models import ReconciliationFinding, ReconciliationRun


def export(client, admin_name: str, **query) -> list[dict]:
    response = client.get(reverse(f"admin:{admin_name}_export"), query)
    assert response.status_code == 200, response.status_code
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def _exported(admin_name_model: str, query: dict) -> AuditLog:
    [record] = AuditLog.objects.filter(action=AuditAction.CSV_EXPORT)
    assert record.object_type == admin_name_model
    assert record.detail == {"query": "&".join(f"{k}={v}" for k, v in query.items())}
    return record


@pytest.fixture
def two_partners_paid(partner, other_partner, funded_link):
    other_link = PartnerLinkFactory(partner=other_partner, customer=funded_link.customer, external_user_id="o-1")
    payments = [SessionPaymentFactory(partner=partner, external_user_id="pcsUserId001", kilometer=km) for km in (10, 20, 30)]
    SessionPaymentFactory(partner=other_partner, external_user_id=other_link.external_user_id, kilometer=7)
    return payments


def test_transactions_export_is_the_filtered_list_with_totals(finance_client, finance_user, partner, two_partners_paid):
    query = {"partner__id__exact": str(partner.pk)}

    rows = export(finance_client, "ledger_transaction", **query)

    assert [int(row["id"]) for row in rows] == sorted((t.pk for t in two_partners_paid), reverse=True)
    assert {row["partner"] for row in rows} == {"PCS-001"}
    assert sum(int(row["wallet_amount"]) for row in rows) == -60
    assert {row["unit"] for row in rows} == {"KM"}
    assert rows[0]["transactionId"] == two_partners_paid[-1].external_id
    record = _exported("ledger.transaction", query)
    assert record.actor == finance_user


def test_the_list_page_links_the_export_with_its_filters(support_client, partner, two_partners_paid):
    page = support_client.get(reverse("admin:ledger_transaction_changelist"), {"partner__id__exact": partner.pk}).content

    assert f'href="/admin/ledger/transaction/export.csv?partner__id__exact={partner.pk}"'.encode() in page


def test_card_charges_export_in_dollars(support_client, gateway_settings, service_account, hop_customer):
    charges = [CardChargeFactory(requested_by=service_account, customer=hop_customer, amount_cents=c) for c in (1999, 501)]

    rows = export(support_client, "gateways_cardcharge", status__exact=ChargeStatus.AUTHORIZED)

    assert [int(row["id"]) for row in rows] == [charges[1].pk, charges[0].pk]
    assert sum(Decimal(row["authorized_usd"]) for row in rows) == Decimal("25.00")
    assert [row["requested_usd"] for row in rows] == ["5.01", "19.99"]
    assert rows[0]["card"] == hop_customer.payment_methods.get().masked_token


def test_refused_attempts_export_found_by_search(support_client, db):
    for request_id, user_id in (("r-1", "=HYPERLINK(1)"), ("r-2", "u-2")):
        RefusedAttempt.objects.create(
            api="andcharge",
            method="POST",
            path="/v1/x",
            status=422,
            error_code="ACCOUNT_BALANCE_NOT_SUFFICIENT",
            error_args=[3, 8],
            user_id=user_id,
            amount=8,
            request_id=request_id,
        )

    rows = export(support_client, "backoffice_refusedattempt", q="r-1")

    assert [(row["request_id"], row["userId"], row["amount"], row["unit"]) for row in rows] == [
        ("r-1", "'=HYPERLINK(1)", "8", "km")
    ]
    assert rows[0]["reason"] == "Not enough kilometers: the wallet held 3 km, the partner asked for 8 km."


def test_findings_and_audit_log_exports(finance_client, finance_user, db):
    run = ReconciliationRun.objects.create(business_date=timezone.localdate())
    for kind, status in (("amount_mismatch", "open"), ("missing_in_ledger", "open"), ("negative_wallet", "auto_closed")):
        ReconciliationFinding.objects.create(
            kind=kind, severity="error", fingerprint=kind, status=status, first_run=run, last_run=run, expected_amount=100
        )

    findings = export(finance_client, "reconciliation_reconciliationfinding", status__exact="open")
    audit = export(finance_client, "accounts_auditlog")

    assert sorted(row["kind"] for row in findings) == ["amount_mismatch", "missing_in_ledger"]
    assert {row["expected"] for row in findings} == {"100"}
    # The audit log lists both exports, this one's record written before its rows streamed.
    assert [(row["action"], row["object_type"], row["actor"]) for row in audit] == [
        ("csv_export", "accounts.auditlog", "fay.finance"),
        ("csv_export", "reconciliation.reconciliationfinding", "fay.finance"),
    ]


def test_no_export_without_the_right_to_read_the_list(nogroup_client, db):
    response = nogroup_client.get(reverse("admin:ledger_transaction_export"))

    assert response.status_code == 403
    assert not AuditLog.objects.filter(action=AuditAction.CSV_EXPORT).exists()


def test_a_grant_exports_its_kilometers(finance_client, customer):
    grant(customer, 1250)

    [row] = export(finance_client, "ledger_transaction")

    assert (row["kind"], row["wallet_amount"], row["unit"]) == ("KM_GRANT", "1250", "KM")
