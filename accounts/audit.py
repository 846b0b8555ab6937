"""The audit trail of staff actions. `audit_record` is called by the service that performs the action,
inside that service's database transaction (so the action and its record commit or roll back together)."""

from django.contrib import admin
from django.db import models, transaction

from .models import AuditAction, AuditLog, Customer, Partner, User


def audit_record(
    *,
    actor: User | None,
    action: AuditAction,
    reason: str,
    target: models.Model,
    customer: Customer | int | None = None,
    partner: Partner | int | None = None,
    balances_before: dict | None = None,
    balances_after: dict | None = None,
    detail: dict | None = None,
) -> AuditLog:
    """Record one staff action (`actor` None: the partner acting for itself through the API). Must run inside
    the action's transaction (asserted: a record written after the action committed could be lost with nothing to
    show for it). Raises ValueError without a reason."""
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


def audit_export(*, actor: User, model: type[models.Model], query: str, rows: int | None = None) -> AuditLog:
    """Record that `actor` exported a list of `model` (the changelist's query string says which rows). Written
    before the file streams, in its own transaction: an export that was started is on record."""
    with transaction.atomic():
        return AuditLog.objects.create(
            actor=actor,
            action=AuditAction.CSV_EXPORT,
            reason=f"exported {model._meta.verbose_name_plural} as CSV",
            object_type=model._meta.label_lower,
            object_id="",
            detail={"query": query[:2000], **({"rows": rows} if rows is not None else {})},
        )


def audit_admin_edit(*, log_entry) -> AuditLog | None:
    """Mirror one of the Django admin's own log entries (a user, group or beat schedule added, changed or deleted
    through a standard admin form) into the audit log. The admin writes its entry inside the same transaction
    as the edit, so the audit record commits with it."""
    content_type = log_entry.content_type
    model_admin = admin.site._registry.get(content_type.model_class()) if content_type is not None else None
    if getattr(model_admin, "audited_by_service", False):  # its saves are audited by the service they call
        return None
    verb = {1: "added", 2: "changed", 3: "deleted"}.get(log_entry.action_flag, "edited")
    message = log_entry.get_change_message() or "no field changed"
    return AuditLog.objects.create(
        actor_id=log_entry.user_id,
        action=AuditAction.ADMIN_EDIT,
        reason=f"{verb} in the admin: {message}",
        object_type=f"{content_type.app_label}.{content_type.model}" if content_type else "",
        object_id=str(log_entry.object_id or ""),
        detail={"object": log_entry.object_repr, "admin_log_entry": log_entry.pk},
    )
