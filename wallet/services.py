"""Writes to the cents wallet besides card charges: purchases, comps, the tap system's line items (received,
applied by a worker, topped up automatically, resolved by staff). The gateway is called outside any database
transaction; work is queued by task name after commit (services never import tasks)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Customer, User
from core.errors import (
    ChargeFailed,
    CompRefused,
    GatewayBusy,
    IdempotencyKeyInUse,
    InsufficientBalance,
    InvalidParameter,
    LineItemStateConflict,
    ObjectNotFound,
    PaymentDetailsMissing,
    PurchaseDeclined,
)
from core.idempotency import idempotency_begin, idempotency_complete, idempotency_release, request_fingerprint
from core.models import IdempotencyRecord
from gateways import queue
from gateways import services as gateway_services
from gateways.models import CardCharge
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.models import SystemAccount, TransactionKind

from .models import Comp, LineItem, LineItemStatus, Purchase

logger = logging.getLogger("chargepay.wallet")

# Celery task names (wallet/tasks.py), queued by name.
APPLY_LINE_ITEM = "wallet.apply_line_item"
SWEEP_LINE_ITEMS = "wallet.sweep_line_items"


def purchase_create(
    *,
    requested_by: User,
    customer: Customer,
    amount_cents: int,
    qty: int | None = None,
    venue_id: str = "",
    tap_id: str = "",
    employee_id: str = "",
    description: str = "",
    idempotency_record: IdempotencyRecord | None = None,
) -> Purchase:
    """Spend `amount_cents` of the customer's cents wallet, down to minus its credit limit at most; the purchase
    and its ledger transaction (of the requester's partner) in one database transaction.

    Locks the customer's USD wallet (the conditional UPDATE decides, so racing purchases never pass the limit).
    A request that took over an Idempotency-Key answers the purchase the first attempt made, if it made one.
    Raises PurchaseDeclined (nothing recorded).
    """
    if idempotency_record is not None and idempotency_record.takeovers:
        earlier = Purchase.objects.filter(idempotency_record=idempotency_record).first()
        if earlier is not None:
            return earlier
    try:
        with transaction.atomic():
            txn = ledger_services.cents_wallet_move(
                kind=TransactionKind.PURCHASE,
                customer_id=customer.pk,
                partner=requested_by.partner,
                amount_cents=-amount_cents,
                counterpart=SystemAccount.USD_VENUE_SALES,
                use_credit=True,
            )
            return Purchase.objects.create(
                customer=customer,
                partner=requested_by.partner,
                requested_by=requested_by,
                amount_cents=amount_cents,
                qty=qty,
                venue_id=venue_id,
                tap_id=tap_id,
                employee_id=employee_id,
                description=description,
                idempotency_record=idempotency_record,
                ledger_transaction=txn,
            )
    except InsufficientBalance as refusal:
        raise PurchaseDeclined(available=refusal.available, requested=amount_cents) from None


def comp_create(
    *,
    requested_by: User,
    customer: Customer,
    amount_cents: int,
    venue_id: str = "",
    employee_id: str = "",
    description: str = "",
    idempotency_record: IdempotencyRecord | None = None,
) -> Comp:
    """Credit the customer's cents wallet as goodwill at the venue, without the card gateway (from the comps
    account), as a transaction of the requester's partner. The caller checks the requester's comp permission.

    Locks the customer's USD wallet. Raises CompRefused (a negative amount), InvalidParameter (zero).
    """
    if amount_cents < 0:
        raise CompRefused(amount=amount_cents)
    if amount_cents == 0:
        raise InvalidParameter(amount_cents, "amount_in_cents")
    if idempotency_record is not None and idempotency_record.takeovers:
        earlier = Comp.objects.filter(idempotency_record=idempotency_record).first()
        if earlier is not None:
            return earlier
    with transaction.atomic():
        txn = ledger_services.cents_wallet_move(
            kind=TransactionKind.COMP,
            customer_id=customer.pk,
            partner=requested_by.partner,
            amount_cents=amount_cents,
            counterpart=SystemAccount.USD_COMPS,
        )
        return Comp.objects.create(
            customer=customer,
            partner=requested_by.partner,
            requested_by=requested_by,
            amount_cents=amount_cents,
            venue_id=venue_id,
            employee_id=employee_id,
            description=description,
            idempotency_record=idempotency_record,
            ledger_transaction=txn,
        )


# --- The tap system's line items ------------------------------------------------------------------------------


def line_item_receive(*, requested_by: User, customer: Customer, session_token: str, fields: dict) -> tuple[LineItem, bool]:
    """Store a line item PENDING and queue it for a worker after commit. Idempotent by (partner, line_item_id):
    the same id again (sent twice, or concurrently: the UNIQUE index decides) returns the stored line item as it
    stands, never a second one. `fields` are the model's (validated by the caller). Returns (line item, created).
    """
    partner = requested_by.partner
    try:
        with transaction.atomic():
            item = LineItem.objects.create(
                partner=partner,
                customer=customer,
                requested_by=requested_by,
                session_token=session_token,
                work_enqueued_at=timezone.now(),
                **fields,
            )
            item_pk = item.pk
            transaction.on_commit(lambda: queue.enqueue(APPLY_LINE_ITEM, item_pk))
            return item, True
    except IntegrityError:
        existing = LineItem.objects.filter(partner=partner, line_item_id=fields["line_item_id"]).first()
        if existing is None:
            raise
        return existing, False


class LineItemNotDone(Exception):
    """The line item could not be finished now (its automatic top-up is in another worker's hands); retried later."""


def line_item_claim(*, line_item_pk: int) -> LineItem | None:
    """Claim a PENDING line item for one worker (a conditional UPDATE; a lease that a killed worker leaves runs out).
    Returns it, or None (done already, or someone else is on it)."""
    now = timezone.now()
    claimed = (
        LineItem.objects.filter(pk=line_item_pk, status=LineItemStatus.PENDING)
        .filter(Q(work_lease_until__isnull=True) | Q(work_lease_until__lt=now))
        .update(
            work_lease_until=now + timedelta(seconds=settings.CHARGE_WORK_LEASE_SECONDS), work_attempts=F("work_attempts") + 1
        )
    )
    return LineItem.objects.select_related("requested_by__partner", "customer").get(pk=line_item_pk) if claimed else None


def line_item_apply(*, line_item_pk: int) -> LineItem | None:
    """Apply a PENDING line item to the wallet (a worker's task): money_units < 0 spends -money_units cents, down to
    minus the credit limit; > 0 gives cents back; 0 moves nothing. Processed, or rejected past the credit limit.

    Past the limit with AUTO_TOPUP_CENTS set: the card on record is charged that much first (at most once per line
    item: an Idempotency-Key of the line item's own, so a redelivered task finishes the same charge), then the line
    item is applied again; it is rejected only if it still does not fit (top-up declined, pending, no card, or too
    small). The gateway is called outside any transaction. Returns None when there was nothing to do. Raises
    LineItemNotDone (retry later).
    """
    item = line_item_claim(line_item_pk=line_item_pk)
    if item is None:
        return None
    topup_wanted = settings.AUTO_TOPUP_CENTS > 0
    item, short = _line_item_try(line_item_pk, reject_reason=None if topup_wanted else "the balance would pass the credit limit")
    if not short or not topup_wanted:
        return item
    note = _line_item_topup(item)
    item, _ = _line_item_try(line_item_pk, reject_reason=f"the balance would pass the credit limit; {note}")
    return item


def _line_item_try(line_item_pk: int, *, reject_reason: str | None) -> tuple[LineItem, bool]:
    """Under the line item's row lock: apply it if it is still PENDING. Returns (item, short): `short` when the
    wallet cannot bear it, then the item is REJECTED with `reject_reason`, or left PENDING (still claimed) when
    `reject_reason` is None."""
    with transaction.atomic():
        item = LineItem.objects.select_for_update(of=("self",)).select_related("partner").get(pk=line_item_pk)
        if item.status != LineItemStatus.PENDING:
            return item, False
        try:
            with transaction.atomic():
                if item.money_units:
                    item.ledger_transaction = ledger_services.cents_wallet_move(
                        kind=TransactionKind.LINE_ITEM_PURCHASE if item.money_units < 0 else TransactionKind.LINE_ITEM_CREDIT,
                        customer_id=item.customer_id,
                        partner=item.partner,
                        amount_cents=item.money_units,
                        counterpart=SystemAccount.USD_VENUE_SALES,
                        use_credit=True,
                    )
        except InsufficientBalance:
            if reject_reason is None:
                return item, True
            item.status = LineItemStatus.REJECTED
            item.reject_reason = reject_reason[:255]
            item.work_lease_until = None
            item.save()
            logger.warning("line item %s rejected: %s", item.pk, item.reject_reason)
            return item, True
        item.status = LineItemStatus.PROCESSED
        item.reject_reason = ""
        item.processed_at = timezone.now()
        item.work_lease_until = None
        item.save()
    return item, False


def _line_item_topup(item: LineItem) -> str:
    """Charge the card on record AUTO_TOPUP_CENTS for this line item, once: the charge runs under an Idempotency-Key
    of the line item (`line-item-topup:<pk>`, the requesting service account's), so a retry replays or finishes the
    first charge (same gateway TransactionID) instead of charging again. Returns what happened, for the reason."""
    key = f"line-item-topup:{item.pk}"
    amount = settings.AUTO_TOPUP_CENTS
    try:
        record, replay = idempotency_begin(
            client=item.requested_by,
            key=key,
            fingerprint=request_fingerprint(method="AUTO_TOPUP", path=key, body={"amount_in_cents": amount}),
        )
    except IdempotencyKeyInUse:
        raise LineItemNotDone(f"the automatic top-up of line item {item.pk} is in progress") from None
    if replay is not None:
        return replay[1]["note"]
    try:
        charge = gateway_services.card_charge_create(
            requested_by=item.requested_by, customer=item.customer, amount_cents=amount, idempotency_record=record
        )
        note = f"auto top-up of {amount} cents {charge.status}"
    except PaymentDetailsMissing:
        charge, note = None, "auto top-up: no card on record"
    except ChargeFailed as refusal:
        charge, note = (
            CardCharge.objects.filter(idempotency_record=record).first(),
            f"auto top-up declined: {refusal.description}",
        )
    except GatewayBusy:
        idempotency_release(record=record)
        raise LineItemNotDone("the card gateway is busy") from None
    except BaseException:
        idempotency_release(record=record)
        raise
    idempotency_complete(record=record, status=200, body={"charge_id": charge.pk if charge else None, "note": note})
    if charge is not None:
        LineItem.objects.filter(pk=item.pk).update(topup_charge=charge)
    logger.info("line item %s: %s", item.pk, note)
    return note


def line_items_sweep() -> int:
    """Re-enqueue every PENDING line item whose work did not start in time (message lost, Redis down, worker
    killed). Marks each as enqueued now. Returns how many were enqueued."""
    now = timezone.now()
    due = now - timedelta(seconds=settings.CHARGE_SWEEP_AFTER_SECONDS)
    stuck = list(
        LineItem.objects.filter(status=LineItemStatus.PENDING)
        .filter(Q(work_lease_until__isnull=True) | Q(work_lease_until__lt=now))
        .filter(Q(work_enqueued_at__isnull=True) | Q(work_enqueued_at__lt=due))
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    enqueued = 0
    for item_pk in stuck:
        LineItem.objects.filter(pk=item_pk).update(work_enqueued_at=now)
        enqueued += queue.enqueue(APPLY_LINE_ITEM, item_pk)
    return enqueued


def _rejected_line_item_lock(line_item_pk: int) -> LineItem:
    try:
        item = LineItem.objects.select_for_update(of=("self",)).get(pk=line_item_pk)
    except LineItem.DoesNotExist:
        raise ObjectNotFound("line_item", line_item_pk) from None
    if item.status != LineItemStatus.REJECTED:
        raise LineItemStateConflict(
            line_item_pk=item.pk, why=f"only a rejected line item can be resolved; this one is {item.status}"
        )
    return item


def line_item_retry_by_staff(*, line_item_pk: int, staff: User, reason: str) -> LineItem:
    """Staff send a rejected line item back to the worker (e.g. after the customer topped up or finance raised the
    credit limit): PENDING again, queued after commit. Audited. An automatic top-up it already triggered is never
    repeated (its Idempotency-Key replays).

    Locks the line item row. Raises InvalidParameter (reason), ObjectNotFound, LineItemStateConflict (not rejected).
    """
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        item = _rejected_line_item_lock(line_item_pk)
        previous = item.reject_reason
        item.status = LineItemStatus.PENDING
        item.reject_reason = ""
        item.work_lease_until = None
        item.work_enqueued_at = timezone.now()
        item.save()
        balances = ledger_selectors.customer_balances(customer_id=item.customer_id)
        audit_record(
            actor=staff,
            action=AuditAction.LINE_ITEM_RETRY,
            reason=reason,
            target=item,
            customer=item.customer_id,
            partner=item.partner_id,
            balances_before=balances,
            balances_after=balances,
            detail={"line_item_id": item.line_item_id, "money_units": item.money_units, "rejected_for": previous},
        )
        transaction.on_commit(lambda: queue.enqueue(APPLY_LINE_ITEM, line_item_pk))
    return item


def line_item_write_off_by_staff(*, line_item_pk: int, staff: User, reason: str) -> LineItem:
    """Staff write a rejected line item off: never applied, the wallet untouched (the venue carries the pour).
    Audited. Locks the line item row. Raises InvalidParameter (reason), ObjectNotFound, LineItemStateConflict."""
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        item = _rejected_line_item_lock(line_item_pk)
        item.status = LineItemStatus.WRITTEN_OFF
        item.resolved_by = staff
        item.resolution_reason = reason.strip()[:255]
        item.save()
        balances = ledger_selectors.customer_balances(customer_id=item.customer_id)
        audit_record(
            actor=staff,
            action=AuditAction.LINE_ITEM_WRITE_OFF,
            reason=reason,
            target=item,
            customer=item.customer_id,
            partner=item.partner_id,
            balances_before=balances,
            balances_after=balances,
            detail={"line_item_id": item.line_item_id, "money_units": item.money_units, "rejected_for": item.reject_reason},
        )
    return item
