"""Finance works through findings in the admin: runs with summaries, resolving with a note, uploading a batch CSV."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditLog
from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import assert_audited
from gateways.models import GatewayBatchFile
from ledger.tests.helpers import grant, wallet_of
from reconciliation.models import FindingStatus, ReconciliationFinding
from reconciliation.services import finding_resolve, reconcile


def _finding():
    customer = CustomerFactory()
    grant(customer, 100)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = 90 WHERE id = %s", [wallet_of(customer).pk])
    run = reconcile(business_date=timezone.localdate())
    return run, ReconciliationFinding.objects.get()


def test_run_page_shows_summary_and_findings(admin_client, db, gateway_settings):
    run, finding = _finding()

    page = admin_client.get(reverse("admin:reconciliation_reconciliationrun_change", args=[run.pk]))

    assert page.status_code == 200
    assert "wallet_balance_mismatch" in page.content.decode()
    listing = admin_client.get(reverse("admin:reconciliation_reconciliationfinding_changelist") + "?status__exact=open")
    assert f">{finding.pk}<" in listing.content.decode()


def test_resolving_a_finding_keeps_who_when_and_why(admin_client, admin_user, db, gateway_settings):
    _, finding = _finding()
    url = reverse("admin:reconciliation_reconciliationfinding_change", args=[finding.pk])

    refused = admin_client.post(url, {"resolution_note": ""})
    assert refused.status_code == 200  # the form asks for the note
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN

    admin_client.post(url, {"resolution_note": "corrected by hand, ticket FIN-12"})

    finding.refresh_from_db()
    assert (finding.status, finding.resolved_by, finding.resolution_note) == (
        FindingStatus.RESOLVED,
        admin_user,
        "corrected by hand, ticket FIN-12",
    )
    assert finding.resolved_at is not None


def test_findings_and_runs_cannot_be_added_or_deleted(admin_client, db, gateway_settings):
    run, finding = _finding()

    assert admin_client.get(reverse("admin:reconciliation_reconciliationfinding_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:reconciliation_reconciliationfinding_delete", args=[finding.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert (
        admin_client.post(reverse("admin:reconciliation_reconciliationrun_delete", args=[run.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert ReconciliationFinding.objects.filter(pk=finding.pk).exists()


def test_finance_uploads_a_gateway_batch_csv(admin_client, admin_user, db):
    csv_text = "GatewayTransID,TransactionID,Amount,Type\r\n123456789,abc,500,sale\r\n"
    response = admin_client.post(
        reverse("admin:gateways_gatewaybatchfile_add"),
        {"cycle_code": "202611210001", "csv_file": SimpleUploadedFile("batch.csv", csv_text.encode(), content_type="text/csv")},
    )

    assert response.status_code == 302
    stored = GatewayBatchFile.objects.get(cycle_code="202611210001")
    assert (stored.content, stored.uploaded_by) == (csv_text, admin_user)

    bad = admin_client.post(
        reverse("admin:gateways_gatewaybatchfile_add"),
        {"cycle_code": "202611210002", "csv_file": SimpleUploadedFile("x.csv", b"a,b\r\n1,2\r\n", content_type="text/csv")},
    )
    assert bad.status_code == 200
    assert not GatewayBatchFile.objects.filter(cycle_code="202611210002").exists()


# --- roles and the audit log ------------------------------------------------------------------------


def test_finance_resolves_a_finding_and_the_audit_log_keeps_it(finance_client, finance_user, gateway_settings):
    _, finding = _finding()
    url = reverse("admin:reconciliation_reconciliationfinding_change", args=[finding.pk])

    page = finance_client.get(url)
    response = finance_client.post(url, {"resolution_note": "corrected by hand, ticket FIN-12"})

    assert 'name="resolution_note"' in page.content.decode()
    assert response.status_code == 302
    finding.refresh_from_db()
    assert (finding.status, finding.resolved_by) == (FindingStatus.RESOLVED, finance_user)
    assert_audited(
        actor=finance_user,
        action=AuditAction.FINDING_RESOLVE,
        reason="corrected by hand, ticket FIN-12",
        object_type="reconciliation.reconciliationfinding",
        object_id=str(finding.pk),
        detail={"kind": finding.kind, "involved": finding.involved},
    )


@pytest.mark.parametrize(("role", "page_status"), [("support", 200), ("nogroup", 403)])
def test_only_finance_resolves_findings(request, role, page_status, gateway_settings):
    client = request.getfixturevalue(f"{role}_client")
    _, finding = _finding()
    url = reverse("admin:reconciliation_reconciliationfinding_change", args=[finding.pk])

    page = client.get(url)
    response = client.post(url, {"resolution_note": "looks fine to me"})

    assert page.status_code == page_status  # support reads the finding, without a form to resolve it
    if page_status == 200:
        assert 'name="resolution_note"' not in page.content.decode() and 'name="_save"' not in page.content.decode()
    assert response.status_code == 403
    finding.refresh_from_db()
    assert (finding.status, finding.resolved_by, finding.resolution_note) == (FindingStatus.OPEN, None, "")
    assert not AuditLog.objects.exists()


def test_posting_to_a_resolved_finding_changes_nothing(finance_client, finance_user, gateway_settings):
    _, finding = _finding()
    finding_resolve(finding_id=finding.pk, resolved_by=finance_user, note="known: migration fix pending")
    url = reverse("admin:reconciliation_reconciliationfinding_change", args=[finding.pk])

    page = finance_client.get(url)
    response = finance_client.post(url, {"resolution_note": "a second opinion"})

    assert page.status_code == 200
    assert 'name="resolution_note"' not in page.content.decode() and 'name="_save"' not in page.content.decode()
    assert "known: migration fix pending" in page.content.decode()
    assert response.status_code == 403
    finding.refresh_from_db()
    assert (finding.status, finding.resolution_note) == (FindingStatus.RESOLVED, "known: migration fix pending")
    assert AuditLog.objects.count() == 1


def test_uploading_a_batch_file_is_audited(finance_client, finance_user):
    csv_text = "GatewayTransID,TransactionID,Amount,Type\r\n123456789,abc,500,sale\r\n"

    response = finance_client.post(
        reverse("admin:gateways_gatewaybatchfile_add"),
        {"cycle_code": "202611210003", "csv_file": SimpleUploadedFile("batch.csv", csv_text.encode(), content_type="text/csv")},
    )

    assert response.status_code == 302
    stored = GatewayBatchFile.objects.get(cycle_code="202611210003")
    record = AuditLog.objects.get()
    assert (record.actor, record.action, record.reason, record.object_type, record.object_id, record.detail) == (
        finance_user,
        AuditAction.BATCH_FILE_UPLOAD,
        "gateway batch file uploaded for cycle 202611210003",
        "gateways.gatewaybatchfile",
        str(stored.pk),
        {"cycle_code": "202611210003", "lines": 2},
    )


@pytest.mark.parametrize("role", ["support", "nogroup"])
def test_only_finance_uploads_batch_files(request, role):
    client = request.getfixturevalue(f"{role}_client")
    csv_text = "GatewayTransID,TransactionID,Amount,Type\r\n123456789,abc,500,sale\r\n"

    response = client.post(
        reverse("admin:gateways_gatewaybatchfile_add"),
        {"cycle_code": "202611210004", "csv_file": SimpleUploadedFile("batch.csv", csv_text.encode(), content_type="text/csv")},
    )

    assert response.status_code == 403
    assert not GatewayBatchFile.objects.exists()
    assert not AuditLog.objects.exists()
