"""Reconciliation tells finance and keeps what it found: a run with open error findings e-mails the finance role
and logs what it saw; a run closes only the findings inside what it checked (a batch finding of one day survives
the next day's run); finance replaces a wrong batch file (audited, the old one kept); the batch export follows
GATEWAY_URL's host when GATEWAY_BATCH_EXPORT_URL is unset."""

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from accounts.models import AuditAction
from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import assert_audited
from gateways.models import GatewayBatchFile
from ledger.tests.helpers import grant, wallet_of
from reconciliation.checks import batch_export_url
from reconciliation.models import FindingStatus, ReconciliationFinding
from reconciliation.services import reconcile
from reconciliation.tests.helpers import rows_of as _rows_of
from reconciliation.tests.helpers import settled_day as _settled_day
from reconciliation.tests.helpers import today as _today
from reconciliation.tests.helpers import upload as _upload

pytestmark = pytest.mark.usefixtures("gateway_settings")
HEADER = "GatewayTransID,TransactionID,Amount,Type"


def _csv(rows) -> str:
    return "\r\n".join([HEADER] + [f"{r[0]},{r[1]},{r[2]},{r[3]}" for r in rows]) + "\r\n"


@pytest.fixture
def mismatched_day(service_account, hop_customer, finance_user):
    """Today's batch, uploaded with the first charge's amount off by one: an amount_mismatch."""
    charges, batch = _settled_day(service_account, hop_customer)
    rows = _rows_of(charges)
    _upload(batch, [(rows[0][0], rows[0][1], rows[0][2] + 1, "sale"), rows[1]], finance_user)
    return charges, batch


def test_a_run_with_open_errors_emails_the_finance_role_and_logs_what_it_found(
    mismatched_day, finance_user, support_user, superuser, caplog
):
    with caplog.at_level(logging.INFO, logger="chargepay.reconciliation"):
        run = reconcile(business_date=_today())

    [message] = mail.outbox
    assert message.to == [finance_user.email]  # finance only: not support, not a superuser outside the role
    assert message.subject == f"[chargepay] Reconciliation {_today()}: 1 open error finding(s)"
    finding = ReconciliationFinding.objects.get()
    assert f"#{finding.pk} amount_mismatch: {finding.detail}" in message.body
    [line] = [r.getMessage() for r in caplog.records if r.name == "chargepay.reconciliation"]
    assert line == (
        f"reconciliation {_today()} (run #{run.pk}): saw amount_mismatch 1; 1 new, 0 auto-closed, 1 open error finding(s); "
        f"batches checked: {mismatched_day[1].cycle_code}"
    )


def test_a_clean_run_emails_nobody(service_account, hop_customer, finance_user, sandbox, gateway_settings):
    gateway_settings.GATEWAY_BATCH_EXPORT_URL = ""  # follows GATEWAY_URL: the sandbox's own export
    _settled_day(service_account, hop_customer)

    run = reconcile(business_date=_today())

    assert run.summary["seen"] == {} and run.summary["open_errors"] == 0
    assert mail.outbox == []


def test_a_batch_finding_of_one_day_survives_the_next_days_run(mismatched_day, finance_user):
    reconcile(business_date=_today())
    finding = ReconciliationFinding.objects.get()

    # The next morning's run checks the next day's batches only (here: none closed that day).
    tomorrow = reconcile(business_date=_today() + timedelta(days=1))

    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN
    assert tomorrow.summary["auto_closed"] == 0 and tomorrow.summary["batches"] == []


def test_a_whole_state_finding_still_closes_on_any_days_run(db, finance_user):
    customer = CustomerFactory()
    grant(customer, 100)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = 90 WHERE id = %s", [wallet_of(customer).pk])
    reconcile(business_date=_today() - timedelta(days=3))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = 100 WHERE id = %s", [wallet_of(customer).pk])

    reconcile(business_date=_today())

    assert ReconciliationFinding.objects.get().status == FindingStatus.AUTO_CLOSED


def test_finance_replaces_a_wrong_batch_file_and_the_rerun_closes_the_finding(mismatched_day, finance_client, finance_user):
    charges, batch = mismatched_day
    reconcile(business_date=_today())
    old = GatewayBatchFile.objects.get()
    replace_url = reverse("admin:gateways_gatewaybatchfile_replace", args=[old.pk])
    assert 'id="replace-batch-file"' in finance_client.get(reverse("admin:gateways_gatewaybatchfile_change", args=[old.pk])).text
    mail.outbox.clear()

    response = finance_client.post(
        replace_url,
        {"csv_file": SimpleUploadedFile("batch.csv", _csv(_rows_of(charges)).encode()), "reason": "uploaded the wrong day"},
    )

    assert response.status_code == 302, response.content
    new = GatewayBatchFile.objects.get(replaced_at__isnull=True)
    old.refresh_from_db()
    assert (old.replaced_by, old.replaced_with, new.cycle_code, new.uploaded_by) == (
        finance_user,
        new,
        batch.cycle_code,
        finance_user,
    )
    assert old.content != new.content  # the old file is kept as it was
    assert_audited(
        among_others=True,
        action=AuditAction.BATCH_FILE_UPLOAD,
        actor=finance_user,
        reason="uploaded the wrong day",
        detail={"cycle_code": batch.cycle_code, "lines": 3, "replaces": old.pk},
    )
    run = reconcile(business_date=_today())
    assert ReconciliationFinding.objects.get().status == FindingStatus.AUTO_CLOSED
    assert run.summary["auto_closed"] == 1 and mail.outbox == []
    # A replaced file cannot be replaced again (its replacement can).
    assert 'id="action-blocked"' in finance_client.get(replace_url).text


def test_support_cannot_replace_a_batch_file(mismatched_day, support_client):
    old = GatewayBatchFile.objects.get()

    response = support_client.post(
        reverse("admin:gateways_gatewaybatchfile_replace", args=[old.pk]),
        {"csv_file": SimpleUploadedFile("b.csv", _csv([]).encode()), "reason": "not mine to do"},
    )

    assert response.status_code == 403
    assert GatewayBatchFile.objects.get().replaced_at is None


def test_a_second_upload_for_a_cycle_points_to_replace(mismatched_day, finance_client):
    batch = mismatched_day[1]

    response = finance_client.post(
        reverse("admin:gateways_gatewaybatchfile_add"),
        {"cycle_code": batch.cycle_code, "csv_file": SimpleUploadedFile("b.csv", _csv([]).encode())},
    )

    assert response.status_code == 200
    assert "Replace this file" in response.text
    assert GatewayBatchFile.objects.count() == 1


def test_the_export_url_follows_gateway_url_when_unset(settings):
    settings.GATEWAY_BATCH_EXPORT_URL = ""
    settings.GATEWAY_URL = "https://gateway.example:8443/PaymentService/RequestHandler.svc"

    assert batch_export_url("C 1") == "https://gateway.example:8443/_sandbox/batches/C%201.csv"

    settings.GATEWAY_BATCH_EXPORT_URL = "https://exports.example/{cycle_code}.csv"
    assert batch_export_url("C-1") == "https://exports.example/C-1.csv"
