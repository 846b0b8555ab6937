"""The audit trail of staff actions. `audit_record` is called by the service that performs the action,
inside that service's database transaction (so the action and its record commit or roll back together)."""

from django.db import models, transaction

from .models import AuditAction, AuditLog, Customer, Partner, User


def audit_record(
    *,
    actor: User,
    action: AuditAction,
    reason: str,
    target: models.Model,
    customer: Customer | int | None = None,
    partner: Partner | int | None = None,
    balances_before: dict | None = None,
    balances_after: dict | None = None,
    detail: dict | None = None,
) -> AuditLog:
    """Record one staff action. Must run inside the action's transaction (asserted: a record written
    after the action committed could be lost with nothing to show for it). Raises ValueError without a reason."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the audited action's transaction")
    if not reason.strip():
        raise ValueError("a staff action needs a reason")
    return AuditLog.objects.create(
        actor=actor,
        action=action,
        reason=reason.strip(),
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        customer_id=customer.pk if isinstance(customer, Customer) else customer,
        partner_id=partner.pk if isinstance(partner, Partner) else partner,
        balances_before=balances_before or {},
        balances_after=balances_after or {},
        detail=detail or {},
    )
