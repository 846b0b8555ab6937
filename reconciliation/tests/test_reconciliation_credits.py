"""Reconciliation of card credits (refunds to cards): settled in the gateway's batch as `credit` rows, matched like
captures by their GatewayTransID; the credit system accounts hold exactly the credits in flight and posted."""

import pytest
from django.utils import timezone

from gateways import services
from gateways.models import CardCredit, CreditStatus, GatewayBatchFile
from ledger import services as ledger_services
from reconciliation.models import FindingStatus, ReconciliationFinding
from reconciliation.services import reconcile

pytestmark = pytest.mark.usefixtures("gateway_settings")


@pytest.fixture
def export_url(gateway_settings, sandbox):
    gateway_settings.GATEWAY_BATCH_EXPORT_URL = sandbox.base_url + "/_sandbox/batches/{cycle_code}.csv"


def _open_findings() -> list[tuple[str, dict]]:
    return sorted(
        ReconciliationFinding.objects.filter(status=FindingStatus.OPEN).values_list("kind", "involved"), key=lambda f: f[0]
    )


def _settled_day_with_a_credit(service_account, customer):
    """A 50.00 top-up captured and a 7.00 credit posted, both settled in one batch at the sandbox."""
    charge = services.card_charge_create(requested_by=service_account, customer=customer, amount_cents=5000)
    services.card_charge_capture(charge_id=charge.pk)
    credit = services.card_credit_create(requested_by=service_account, customer=customer, amount_cents=700)
    batch = services.settlement_close()
    return CardCredit.objects.get(pk=credit.pk), batch


def test_a_settled_credit_matches_its_credit_row(export_url, service_account, hop_customer, sandbox):
    credit, batch = _settled_day_with_a_credit(service_account, hop_customer)

    reconcile(business_date=timezone.localdate())

    assert (credit.status, credit.batch_id) == (CreditStatus.SETTLED, batch.cycle_code)
    assert (batch.credit_count, batch.credit_amount_cents, batch.charge_count, batch.amount_cents) == (1, 700, 1, 5000)
    rows = sandbox.control.batch(batch.cycle_code)["rows"]
    assert [(r["GatewayTransID"], r["Amount"], r["Type"]) for r in rows if r["Type"] == "credit"] == [
        (credit.gateway_trans_id, 700, "credit")
    ]
    assert sandbox.control.batch(batch.cycle_code)["net_amount"] == 5000 - 700  # money going back to cards
    assert _open_findings() == []


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        (lambda line, credit: line.replace(",700,credit,", ",600,credit,"), "amount_mismatch"),
        (lambda line, credit: line.replace(",700,credit,", ",700,sale,"), "status_mismatch"),
        (lambda line, credit: None, "missing_at_gateway"),
    ],
    ids=["amount", "type", "missing"],
)
def test_a_credit_the_gateway_settled_otherwise_is_found(
    export_url, service_account, hop_customer, sandbox, admin_user, tamper, kind
):
    credit, batch = _settled_day_with_a_credit(service_account, hop_customer)
    lines = sandbox.control.batch_csv(batch.cycle_code).splitlines()
    changed = [tamper(line, credit) if credit.gateway_trans_id in line else line for line in lines]
    GatewayBatchFile.objects.create(
        cycle_code=batch.cycle_code,
        content="\r\n".join(line for line in changed if line is not None) + "\r\n",
        uploaded_by=admin_user,
    )

    reconcile(business_date=timezone.localdate())

    involved = {"batch": batch.cycle_code, "credit": credit.pk, "gateway_trans_id": credit.gateway_trans_id}
    assert _open_findings() == [(kind, involved)]


def test_a_credit_row_we_do_not_have_is_missing_in_ledger(export_url, service_account, hop_customer, sandbox, admin_user):
    credit, batch = _settled_day_with_a_credit(service_account, hop_customer)
    lines = sandbox.control.batch_csv(batch.cycle_code).splitlines()
    extra = next(line for line in lines if credit.gateway_trans_id in line).replace(credit.gateway_trans_id, "999999999")
    GatewayBatchFile.objects.create(
        cycle_code=batch.cycle_code, content="\r\n".join([*lines, extra]) + "\r\n", uploaded_by=admin_user
    )

    reconcile(business_date=timezone.localdate())

    assert [kind for kind, _ in _open_findings()] == ["missing_in_ledger"]


def test_credits_in_flight_and_posted_are_what_their_accounts_hold(export_url, service_account, hop_customer, sandbox, settings):
    ledger_services.card_topup_credit(customer_id=hop_customer.pk, amount_cents=2000)
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    sandbox.control.add_fault("drop", request_type="004")
    pending = services.card_credit_create(requested_by=service_account, customer=hop_customer, amount_cents=600)
    posted = services.card_credit_create(requested_by=service_account, customer=hop_customer, amount_cents=900)

    reconcile(business_date=timezone.localdate())

    assert (pending.status, posted.status) == (CreditStatus.PENDING, CreditStatus.POSTED)
    assert _open_findings() == []
    # a settlement waits for the pending credit's outcome: it may be in the gateway's batch
    with pytest.raises(services.SettlementNotReady):
        services.settlement_close()
