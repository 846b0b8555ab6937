"""Helpers of the reconciliation tests: a settled day at the sandbox, the gateway's batch file for it."""

from django.utils import timezone

from gateways import services
from gateways.models import CardCharge, GatewayBatchFile


def today():
    return timezone.localdate()


def settled_day(service_account, customer, amounts=(500, 700)):
    """Charges authorized, captured and settled in one batch at the sandbox: a clean day."""
    charges = [services.card_charge_create(requested_by=service_account, customer=customer, amount_cents=a) for a in amounts]
    for charge in charges:
        services.card_charge_capture(charge_id=charge.pk)
    batch = services.settlement_close()
    return [CardCharge.objects.get(pk=c.pk) for c in charges], batch


def upload(batch, rows, admin_user):
    header = "GatewayTransID,TransactionID,Amount,Type,CardLast4,SettledAt,AuthGatewayTransID,AuthTransactionID"
    lines = [header] + [",".join([r[0], r[1], str(r[2]), r[3], "0019", "2026-11-21", "", ""]) for r in rows]
    GatewayBatchFile.objects.create(cycle_code=batch.cycle_code, content="\r\n".join(lines) + "\r\n", uploaded_by=admin_user)


def rows_of(charges):
    return [(c.capture_gateway_trans_id, c.capture_transaction_id, c.amount_authorized, "sale") for c in charges]
