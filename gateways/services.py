"""Writes for cards, card charges and card credits. The gateway is called outside any database transaction."""

import logging
import re
import uuid
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import events
from accounts.audit import audit_record
from accounts.models import AuditAction, Customer, Partner, PartnerEventType, User
from core.errors import (
    ChargeFailed,
    ChargeStateConflict,
    CreditFailed,
    InsufficientBalance,
    InvalidParameter,
    ObjectNotFound,
    PaymentDetailsMissing,
    TransactionNotReversible,
    WorkInProgress,
)
from core.masking import last_four
from core.models import IdempotencyRecord
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.models import SystemAccount, TransactionKind

from . import bulkhead, lock_objects, queue, selectors
from .bridgecomm import client as bridgecomm
from .bridgecomm import codes as bridgecomm_codes
from .bridgecomm.types import GatewayResult, Outcome
from .models import (
    CREDIT_WORK_STATUSES,
    REFUNDABLE_STATUSES,
    WORK_STATUSES,
    BatchStatus,
    CardCharge,
    CardCredit,
    ChargeStatus,
    CreditStatus,
    GatewayAttempt,
    GatewayBatchFile,
    PaymentMethod,
    SettlementBatch,
)

# A webhook event carries the charge exactly as the HOP API renders it: one rendering, below both.
from .representations import charge_body

logger = logging.getLogger("chargepay.gateways")

TOKEN_RE = re.compile(r"[0-9]{1,22}")


def payment_method_store(*, customer: Customer, partner: Partner, token: str, expires_at: date) -> PaymentMethod:
    """Store (or touch) a card on record for `partner`, the partner storing it: a numeric gateway token of at most
    22 digits and an unexpired date. Only that partner sees the token and charges the card.

    Raises InvalidParameter("payment_method.token"/"payment_method.expires_at"). The card the partner most
    recently stored or used is its card on record.
    """
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        raise InvalidParameter("", "payment_method.token")
    if expires_at < timezone.localdate().replace(day=1):
        raise InvalidParameter(expires_at.isoformat(), "payment_method.expires_at")
    method, _ = PaymentMethod.objects.get_or_create(customer=customer, partner=partner, token=token, expires_at=expires_at)
    PaymentMethod.objects.filter(pk=method.pk).update(last_used_at=timezone.now())
    return method


def card_charge_create(
    *,
    requested_by: User,
    customer: Customer,
    amount_cents: int,
    payment_method: PaymentMethod | None = None,
    idempotency_record: IdempotencyRecord | None = None,
) -> CardCharge:
    """Charge the customer's card and, on approval, credit the authorized amount to the cents wallet.

    1. The charge is committed as PENDING with a fresh gateway TransactionID (and the request's Idempotency-Key
       record, in the same INSERT) before the gateway is called, so a crash at any point leaves a row that the
       resolver finds and finishes by re-sending the same TransactionID.
    2. The gateway's sale-auth runs outside any transaction, holding a bulkhead slot (gateways.bulkhead).
    3. card_charge_record_authorization applies the answer in one transaction.
    A request that took over an Idempotency-Key (its first holder died) finishes the charge the first attempt
    made, if it made one (card_charge_resume): never a second charge.
    Returns the charge AUTHORIZED (credited) or PENDING (unknown outcome, nothing credited).
    The card is `payment_method` or the card on record, and either way one the requester's partner stored.
    Raises PaymentDetailsMissing; ChargeFailed (declined, or the gateway said nothing was charged); GatewayBusy
    (no bulkhead slot free: nothing recorded, nothing sent).
    """
    if idempotency_record is not None and idempotency_record.takeovers:
        earlier = CardCharge.objects.filter(idempotency_record=idempotency_record).first()
        if earlier is not None:
            return card_charge_resume(charge_id=earlier.pk)
    method = payment_method or selectors.payment_method_on_record(customer=customer, partner=requested_by.partner)
    if method is None or method.partner_id != requested_by.partner_id:
        raise PaymentDetailsMissing()
    with bulkhead.gateway_slot():
        try:
            with transaction.atomic():
                charge = CardCharge.objects.create(
                    customer=customer,
                    payment_method=method,
                    requested_by=requested_by,
                    partner=requested_by.partner,
                    amount_requested=amount_cents,
                    gateway_transaction_id=uuid.uuid4().hex,
                    idempotency_record=idempotency_record,
                    work_enqueued_at=timezone.now(),  # the request itself is working on it: the sweeper waits
                )
        except IntegrityError:
            if idempotency_record is None:
                raise
            charge = None
        if charge is not None:
            return _authorize_and_record(charge, resent=False)
    # The holder we took the key over from was alive after all and made the charge: finish that one.
    return card_charge_resume(charge_id=CardCharge.objects.get(idempotency_record=idempotency_record).pk)


def card_charge_resume(*, charge_id: int) -> CardCharge:
    """Finish a charge an earlier request began (it died; a retry took its Idempotency-Key over).

    A PENDING charge is authorized again with the identical request and the same TransactionID (the gateway
    answers what it did the first time and never charges twice); any other charge is already decided and is
    returned as it stands. Raises ChargeFailed (declined or failed), GatewayBusy (bulkhead full, nothing sent).
    """
    charge = CardCharge.objects.select_related("payment_method").get(pk=charge_id)
    if charge.status == ChargeStatus.PENDING and not charge.review_reason:
        with bulkhead.gateway_slot():
            return _authorize_and_record(charge, resent=True)
    if charge.status in (ChargeStatus.DECLINED, ChargeStatus.FAILED):
        raise ChargeFailed(charge.response_description or "Charge failed")
    return charge


def _authorize_and_record(charge: CardCharge, *, resent: bool) -> CardCharge:
    """Send the charge's sale-auth (its TransactionID, its amount) and apply the answer. The caller holds a
    bulkhead slot. Raises ChargeFailed (declined, or nothing charged)."""
    if resent:  # the request itself is working on it again: the sweeper waits
        CardCharge.objects.filter(pk=charge.pk, status=ChargeStatus.PENDING).update(work_enqueued_at=timezone.now())
    method = charge.payment_method
    result = bridgecomm.authorize(
        transaction_id=charge.gateway_transaction_id,
        token=method.token,
        expiration_mmyy=method.expiration_mmyy,
        amount_cents=charge.amount_requested,
        invoice_num=str(charge.pk),
        customer_account_code=str(charge.customer_id),
    )
    charge = card_charge_record_authorization(charge_id=charge.pk, result=result, resent=resent)
    if charge.status in (ChargeStatus.DECLINED, ChargeStatus.FAILED):
        raise ChargeFailed(charge.response_description or "Charge failed")
    return charge


def duplicate_of_an_earlier_send(result: GatewayResult, *, resent: bool) -> bool:
    """A 30036 Duplicate Transaction answer to a TransactionID we sent before: the gateway holds the earlier
    request under that TransactionID, so the answer proves the first send reached it and says nothing about
    its outcome. It is never a refusal."""
    return resent and result.response_code == bridgecomm_codes.DUPLICATE_TRANSACTION


def card_charge_record_authorization(*, charge_id: int, result: GatewayResult, resent: bool = False) -> CardCharge:
    """Record an authorization answer for a charge and apply it, in one transaction.

    Locks the charge row. Only a PENDING charge moves (so a late or repeated answer never credits twice):
    approved → AUTHORIZED with the wallet credited the authorized amount; declined → DECLINED; the gateway
    said nothing was done → FAILED; unknown → stays PENDING. `resent`: the TransactionID was sent before;
    then a 30036 answer leaves the charge PENDING, parked for staff review (`review_reason`; the sweeper
    skips it): the gateway may hold an approval we never heard. The attempt is recorded in every case.
    """
    with transaction.atomic():
        charge = lock_objects.card_charge_lock(charge_id=charge_id)
        _record_attempt(charge, result)
        if charge.status != ChargeStatus.PENDING or result.outcome == Outcome.UNKNOWN:
            return charge
        if duplicate_of_an_earlier_send(result, resent=resent):
            charge.work_lease_until = None
            charge.review_reason = (
                f"authorization outcome unknown: the re-sent request was answered {result.response_code} "
                f"{result.response_description}; the gateway holds the first one (ask it, or wait for the batch)"
            )[:255]
            charge.save(update_fields=["work_lease_until", "review_reason", "updated_at"])
            logger.warning("card charge %s needs review: %s", charge.pk, charge.review_reason)
            return charge
        charge.work_lease_until = None
        charge.response_code = result.response_code
        charge.response_description = result.response_description[:255]
        charge.gateway_trans_id = result.gateway_trans_id
        charge.metadata = result.response_message
        if result.outcome in (Outcome.APPROVED, Outcome.PARTIALLY_APPROVED) and (result.authorized_amount or 0) > 0:
            charge.amount_authorized = min(result.authorized_amount, charge.amount_requested)
            charge.ledger_transaction = ledger_services.card_topup_credit(
                customer_id=charge.customer_id, amount_cents=charge.amount_authorized
            )
            charge.status = ChargeStatus.AUTHORIZED
            charge.authorized_at = timezone.now()
            charge.capture_transaction_id = uuid.uuid4().hex  # reused on every capture retry
            charge.work_enqueued_at = timezone.now()
            charge_id = charge.pk
            transaction.on_commit(lambda: queue.enqueue(queue.CAPTURE, charge_id))
        elif result.outcome == Outcome.TRANSIENT:
            charge.status = ChargeStatus.FAILED
        else:
            charge.status = ChargeStatus.DECLINED
        charge.save()
        _charge_event(charge)
    logger.info(
        "card charge %s: %s (%s) card %s",
        charge.pk,
        charge.status,
        result.response_code or result.error,
        last_four(charge.payment_method.token),
    )
    return charge


# What a partner hears by webhook when a charge reaches a status. A void and a refund both give the money back
# (charge.refunded; the data's status says which); a charge the gateway said it did nothing with is declined.
_CHARGE_EVENTS = {
    ChargeStatus.AUTHORIZED: PartnerEventType.CHARGE_AUTHORIZED,
    ChargeStatus.DECLINED: PartnerEventType.CHARGE_DECLINED,
    ChargeStatus.FAILED: PartnerEventType.CHARGE_DECLINED,
    ChargeStatus.CAPTURED: PartnerEventType.CHARGE_CAPTURED,
    ChargeStatus.VOIDED: PartnerEventType.CHARGE_REFUNDED,
    ChargeStatus.REFUNDED: PartnerEventType.CHARGE_REFUNDED,
    ChargeStatus.REVIEW: PartnerEventType.CHARGE_REVIEW,
}


def _charge_event(charge: CardCharge) -> None:
    """Record the webhook event of the status `charge` has just been saved in (inside the caller's transaction):
    the charge as the HOP API shows it, with the cents balance after the change."""
    type = _CHARGE_EVENTS.get(charge.status)
    if type is None:
        return

    def build() -> dict:
        balance = selectors.cents_balance(customer_id=charge.customer_id)
        return charge_body(charge, balance)["data"]["charge"]

    events.event_record(partner_id=charge.partner_id, type=type, subject=charge, build=build)


# --- Worker side: claims, capture, resolving pending charges, settlement, the sweeper ---------------------


class GatewayNotDone(Exception):
    """The gateway gave no definite answer (or said try later); the work stays due and is retried."""


class SettlementNotReady(Exception):
    """Authorized charges are still waiting for capture; the batch is closed only after them."""


def system_user() -> User:
    """The user automated reversals are recorded under (ledger reversals always name a user)."""
    user, _ = User.objects.get_or_create(username="chargepay-system", defaults={"is_active": False})
    return user


def charge_work_claim(*, charge_id: int, status: ChargeStatus) -> CardCharge | None:
    """Claim a charge for one worker: a conditional UPDATE that succeeds only while the charge is in
    `status` and nobody holds an unexpired lease. Returns the charge, or None (done already, or someone
    else is on it). A worker killed mid-way leaves a lease that expires; then the work can be claimed again.
    """
    return _work_claim(CardCharge, pk=charge_id, status=status)


def _work_claim(model: type[CardCharge] | type[CardCredit], *, pk: int, status: str):
    """The claim of charge_work_claim, for any row with the work columns (card charges and card credits)."""
    now = timezone.now()
    claimed = (
        model.objects.filter(pk=pk, status=status)
        .filter(Q(work_lease_until__isnull=True) | Q(work_lease_until__lt=now))
        .update(
            work_lease_until=now + timedelta(seconds=settings.CHARGE_WORK_LEASE_SECONDS),
            work_attempts=F("work_attempts") + 1,
        )
    )
    return model.objects.select_related("payment_method").get(pk=pk) if claimed else None


def _work_release(charge_id: int, model: type[CardCharge] | type[CardCredit] = CardCharge) -> None:
    model.objects.filter(pk=charge_id).update(work_lease_until=None, work_enqueued_at=timezone.now())


def _record_attempt(owner: CardCharge | CardCredit, result: GatewayResult) -> None:
    GatewayAttempt.objects.create(
        **({"credit": owner} if isinstance(owner, CardCredit) else {"charge": owner}),
        request_type=result.request_type,
        transaction_id=result.transaction_id,
        outcome=result.outcome,
        response_code=result.response_code,
        response_description=result.response_description[:255],
        response_message=result.response_message,
        error=result.error[:255],
    )


def card_charge_capture(*, charge_id: int) -> CardCharge | None:
    """Capture (019) an authorized charge, once, whatever crashes.

    Claims the charge (conditional UPDATE), calls the gateway with the charge's capture TransactionID (the
    same on every try, so a re-sent capture is answered, never repeated), then under the charge's row lock:
    approved → CAPTURED and the ledger moves authorized → receivable; a definite refusal → REVIEW (see
    _capture_failed). Raises GatewayNotDone for no definite answer or a transient one (retry later).
    Returns None when there was nothing to do.
    """
    charge = charge_work_claim(charge_id=charge_id, status=ChargeStatus.AUTHORIZED)
    if charge is None:
        return None
    result = bridgecomm.capture(
        transaction_id=charge.capture_transaction_id,
        gateway_trans_id=charge.gateway_trans_id,
        amount_cents=charge.amount_authorized,
    )
    with transaction.atomic():
        charge = lock_objects.card_charge_lock(charge_id=charge_id)
        _record_attempt(charge, result)
        if charge.status != ChargeStatus.AUTHORIZED:
            return charge
        if result.outcome in (Outcome.UNKNOWN, Outcome.TRANSIENT):
            charge.work_lease_until = None
            charge.save(update_fields=["work_lease_until", "updated_at"])
        elif result.outcome == Outcome.APPROVED or duplicate_of_an_earlier_send(result, resent=charge.work_attempts > 1):
            # On a 30036 to a re-sent capture the gateway holds our first 019: recorded as captured, to be
            # confirmed by the batch (reconciliation matches it by its TransactionID and reports it if absent).
            charge.capture_unconfirmed = result.outcome != Outcome.APPROVED
            charge.capture_ledger_transaction = ledger_services.card_funds_move(
                kind=TransactionKind.CARD_CAPTURE,
                customer_id=charge.customer_id,
                amount_cents=charge.amount_authorized,
                source=SystemAccount.USD_CARD_AUTHORIZED,
                target=SystemAccount.USD_CARD_RECEIVABLE,
            )
            charge.status = ChargeStatus.CAPTURED
            charge.capture_gateway_trans_id = result.gateway_trans_id
            charge.captured_at = timezone.now()
            charge.work_lease_until = None
            charge.save()
            _charge_event(charge)
        else:
            _capture_failed(charge, f"{result.response_code} {result.response_description}".strip())
    if result.outcome in (Outcome.UNKNOWN, Outcome.TRANSIENT):
        raise GatewayNotDone(result.error or result.response_description or result.outcome)
    logger.info("card charge %s capture: %s", charge.pk, charge.status)
    return charge


def _capture_failed(charge: CardCharge, reason: str) -> None:
    """A capture the gateway refused for good: the charge goes to REVIEW for staff. The wallet credit is
    reversed when the wallet still holds it; otherwise the charge carries the debt, flagged in admin.
    Runs inside the caller's transaction, under its lock on the charge."""
    charge.status = ChargeStatus.REVIEW
    charge.review_reason = f"capture refused: {reason}"[:255]
    charge.work_lease_until = None
    try:
        ledger_services.transaction_reverse(
            transaction_id=charge.ledger_transaction_id, reversed_by=system_user(), reason=charge.review_reason
        )
    except InsufficientBalance:
        charge.debt_cents = charge.amount_authorized
    charge.save()
    _charge_event(charge)
    logger.warning("card charge %s needs review: %s (debt %s)", charge.pk, charge.review_reason, charge.debt_cents)


def card_charge_resolve(*, charge_id: int) -> CardCharge | None:
    """Resolve a PENDING charge (unknown outcome) by re-sending the identical authorization with the same
    TransactionID: the gateway answers with what it did the first time and never charges twice.
    Raises GatewayNotDone while the answer is still not definite. Returns None when there was nothing to do.
    """
    charge = charge_work_claim(charge_id=charge_id, status=ChargeStatus.PENDING)
    if charge is None:
        return None
    if charge.review_reason:  # parked for staff: re-sending would only get the same 30036
        _work_release(charge.pk)
        return charge
    method = charge.payment_method
    result = bridgecomm.authorize(
        transaction_id=charge.gateway_transaction_id,
        token=method.token,
        expiration_mmyy=method.expiration_mmyy,
        amount_cents=charge.amount_requested,
        invoice_num=str(charge.pk),
        customer_account_code=str(charge.customer_id),
    )
    charge = card_charge_record_authorization(charge_id=charge.pk, result=result, resent=True)
    if charge.status == ChargeStatus.PENDING and not charge.review_reason:
        _work_release(charge.pk)
        raise GatewayNotDone(result.error or result.outcome)
    return charge


def settlement_close() -> SettlementBatch:
    """Close the gateway's batch (020) once every authorized charge is captured and every card credit's outcome
    is known, then mark the charges captured (and the credits posted) before the request SETTLED with the batch's
    CycleCode and move their cents receivable → settled (credits: credit payable → settled).

    The batch row is committed before the request, so an answer lost on the way is re-sent with the same
    TransactionID (the gateway answers the same CycleCode). Raises SettlementNotReady (captures still to do:
    they are enqueued) or GatewayNotDone.
    """
    waiting = list(CardCharge.objects.filter(status=ChargeStatus.AUTHORIZED).values_list("pk", flat=True))
    if waiting:
        for charge_id in waiting:
            queue.enqueue(queue.CAPTURE, charge_id)
        raise SettlementNotReady(f"{len(waiting)} authorized charges are not captured yet")
    # A credit whose outcome is unknown may be posted at the gateway, and so in the batch it is about to close:
    # learn its outcome first, so both sides put it in the same batch.
    unknown = list(CardCredit.objects.filter(status=CreditStatus.PENDING, review_reason="").values_list("pk", flat=True))
    if unknown:
        for credit_id in unknown:
            queue.enqueue(queue.RESOLVE_CREDIT, credit_id)
        raise SettlementNotReady(f"{len(unknown)} card credits have no known outcome yet")
    batch = SettlementBatch.objects.filter(status=BatchStatus.CLOSING).first()
    if batch is None:
        try:
            with transaction.atomic():
                batch = SettlementBatch.objects.create(transaction_id=uuid.uuid4().hex)
        except IntegrityError:  # another worker is closing
            raise SettlementNotReady("a settlement is already in progress") from None
    # The batch holds what was captured before its 020 was first sent (the batch row is committed first):
    # a re-sent 020 answers the same CycleCode, so later captures belong to the next batch.
    captured_before = list(
        CardCharge.objects.filter(status=ChargeStatus.CAPTURED, captured_at__lte=batch.created_at).values_list("pk", flat=True)
    )
    posted_before = list(
        CardCredit.objects.filter(status=CreditStatus.POSTED, posted_at__lte=batch.created_at).values_list("pk", flat=True)
    )
    result = bridgecomm.settle(transaction_id=batch.transaction_id)
    if result.outcome != Outcome.APPROVED or not result.cycle_code:
        raise GatewayNotDone(result.error or result.response_description or result.outcome)
    with transaction.atomic():
        batch = lock_objects.settlement_batch_lock(batch_id=batch.pk)
        for charge in lock_objects.captured_charges_lock(charge_ids=captured_before):
            charge.settlement_ledger_transaction = ledger_services.card_funds_move(
                kind=TransactionKind.CARD_SETTLEMENT,
                customer_id=charge.customer_id,
                amount_cents=charge.amount_authorized,
                source=SystemAccount.USD_CARD_RECEIVABLE,
                target=SystemAccount.USD_CARD_SETTLED,
            )
            charge.status = ChargeStatus.SETTLED
            charge.batch_id = result.cycle_code
            charge.settled_at = timezone.now()
            charge.save()
            batch.charge_count += 1
            batch.amount_cents += charge.amount_authorized
        for credit in lock_objects.posted_credits_lock(credit_ids=posted_before):
            credit.settlement_ledger_transaction = ledger_services.card_credit_funds_move(
                kind=TransactionKind.CARD_CREDIT_SETTLEMENT,
                customer_id=credit.customer_id,
                partner=credit.partner,
                amount_cents=credit.amount,
                source=SystemAccount.USD_CARD_CREDIT_PAYABLE,
                target=SystemAccount.USD_CARD_SETTLED,
            )
            credit.status = CreditStatus.SETTLED
            credit.batch_id = result.cycle_code
            credit.settled_at = timezone.now()
            credit.save()
            batch.credit_count += 1
            batch.credit_amount_cents += credit.amount
        batch.status = BatchStatus.CLOSED
        batch.cycle_code = result.cycle_code
        batch.closed_at = timezone.now()
        batch.save()
    logger.info("settlement batch %s closed: %s charges, %s cents", batch.cycle_code, batch.charge_count, batch.amount_cents)
    return batch


def charges_sweep() -> dict[str, int]:
    """Re-enqueue every charge whose work is due but did not start in time (message lost, Redis was down,
    worker killed): PENDING → resolve, AUTHORIZED → capture, REFUNDING → void/refund; and every PENDING card
    credit → resolve_credit. Marks each as enqueued now."""
    now = timezone.now()
    due = now - timedelta(seconds=settings.CHARGE_SWEEP_AFTER_SECONDS)
    stuck = (
        CardCharge.objects.filter(status__in=WORK_STATUSES)
        .exclude(status=ChargeStatus.PENDING, review_reason__gt="")  # parked for staff review
        .filter(Q(work_lease_until__isnull=True) | Q(work_lease_until__lt=now))
        .filter(Q(work_enqueued_at__isnull=True) | Q(work_enqueued_at__lt=due))
        .order_by("pk")
        .values_list("pk", "status")[:1000]
    )
    counts = {"capture": 0, "resolve": 0, "refund": 0, "resolve_credit": 0}
    for charge_id, status in stuck:
        CardCharge.objects.filter(pk=charge_id).update(work_enqueued_at=now)
        if status == ChargeStatus.AUTHORIZED:
            counts["capture"] += queue.enqueue(queue.CAPTURE, charge_id)
        elif status == ChargeStatus.REFUNDING:
            counts["refund"] += queue.enqueue(queue.REFUND, charge_id)
        else:
            counts["resolve"] += queue.enqueue(queue.RESOLVE, charge_id)
    stuck_credits = (
        CardCredit.objects.filter(status__in=CREDIT_WORK_STATUSES, review_reason="")
        .filter(Q(work_lease_until__isnull=True) | Q(work_lease_until__lt=now))
        .filter(Q(work_enqueued_at__isnull=True) | Q(work_enqueued_at__lt=due))
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    for credit_id in stuck_credits:
        CardCredit.objects.filter(pk=credit_id).update(work_enqueued_at=now)
        counts["resolve_credit"] += queue.enqueue(queue.RESOLVE_CREDIT, credit_id)
    return counts


# Where a charge's cents sit in the ledger, by status, and so where a refund takes them back to.
_FUNDS_ACCOUNT = {
    ChargeStatus.AUTHORIZED: SystemAccount.USD_CARD_AUTHORIZED,
    ChargeStatus.CAPTURED: SystemAccount.USD_CARD_RECEIVABLE,
    ChargeStatus.SETTLED: SystemAccount.USD_CARD_SETTLED,
}


def card_charge_refund_request(*, charge_id: int, requested_by: User, reason: str) -> CardCharge:
    """Staff ask to give a card charge back: void it (not settled yet) or refund it (settled).

    Under the charge's row lock: the wallet gives the credited cents back at once (so they cannot be spent
    meanwhile; refused when it no longer holds them), the charge becomes REFUNDING (the outbox) and a worker
    tells the gateway after commit. Raises InvalidParameter (reason), TransactionNotReversible (status),
    InsufficientBalance.
    """
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        charge = _charge_lock(charge_id)
        if charge.status not in REFUNDABLE_STATUSES:
            raise TransactionNotReversible(charge.pk, f"a {charge.status} charge cannot be voided or refunded")
        before = ledger_selectors.customer_balances(customer_id=charge.customer_id)
        charge.refund_ledger_transaction = ledger_services.card_refund_debit(
            customer_id=charge.customer_id,
            amount_cents=charge.amount_authorized,
            counterpart=_FUNDS_ACCOUNT[charge.status],
            created_by=requested_by,
            reason=reason.strip(),
        )
        charge.refund_from_status = charge.status
        charge.status = ChargeStatus.REFUNDING
        charge.refund_transaction_id = uuid.uuid4().hex
        charge.refund_reason = reason.strip()[:255]
        charge.refund_requested_by = requested_by
        charge.work_lease_until = None
        charge.work_enqueued_at = timezone.now()
        charge.save()
        audit_record(
            actor=requested_by,
            action=AuditAction.CARD_CHARGE_REFUND,
            reason=reason,
            target=charge,
            customer=charge.customer_id,
            partner=charge.partner_id,
            balances_before=before,
            balances_after=ledger_selectors.customer_balances(customer_id=charge.customer_id),
            detail={"from_status": charge.refund_from_status, "amount_cents": charge.amount_authorized},
        )
        transaction.on_commit(lambda: queue.enqueue(queue.REFUND, charge_id))
    return charge


def _charge_lock(charge_id: int) -> CardCharge:
    try:
        return lock_objects.card_charge_lock(charge_id=charge_id)
    except CardCharge.DoesNotExist:
        raise ObjectNotFound("charge", charge_id) from None


def card_charge_capture_retry(*, charge_id: int, requested_by: User, reason: str) -> CardCharge:
    """Staff ask for an authorized charge's capture to be tried again now (instead of at the next backoff or
    sweep), e.g. after a gateway outage. The same capture TransactionID is reused, so this can never capture
    twice. Audited.

    Locks the charge row. Raises InvalidParameter (reason), ChargeStateConflict (not AUTHORIZED: a
    refused capture is final for its TransactionID and stays in review), WorkInProgress (a worker holds it now).
    """
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        charge = _charge_lock(charge_id)
        if charge.status != ChargeStatus.AUTHORIZED:
            raise ChargeStateConflict(
                charge_pk=charge.pk, why=f"only an authorized charge awaits capture; this one is {charge.status}"
            )
        if charge.work_lease_until is not None and charge.work_lease_until > timezone.now():
            raise WorkInProgress(charge.pk, "a worker is capturing this charge now")
        charge.work_enqueued_at = timezone.now()
        charge.save(update_fields=["work_enqueued_at", "updated_at"])
        balances = ledger_selectors.customer_balances(customer_id=charge.customer_id)
        audit_record(
            actor=requested_by,
            action=AuditAction.CARD_CHARGE_CAPTURE_RETRY,
            reason=reason,
            target=charge,
            customer=charge.customer_id,
            partner=charge.partner_id,
            balances_before=balances,
            balances_after=balances,
            detail={"work_attempts": charge.work_attempts},
        )
        transaction.on_commit(lambda: queue.enqueue(queue.CAPTURE, charge_id))
    return charge


def card_charge_refund(*, charge_id: int) -> CardCharge | None:
    """Tell the gateway (012) about a REFUNDING charge: void what is not settled, refund what is. The same
    TransactionID on every try. Approved → VOIDED/REFUNDED; refused for good → REVIEW (the wallet debit stays:
    staff decide); no definite answer → GatewayNotDone (retried). None when there was nothing to do."""
    charge = charge_work_claim(charge_id=charge_id, status=ChargeStatus.REFUNDING)
    if charge is None:
        return None
    refund = charge.refund_from_status == ChargeStatus.SETTLED
    reference = charge.capture_gateway_trans_id or charge.gateway_trans_id
    result = bridgecomm.void_or_refund(
        transaction_id=charge.refund_transaction_id,
        gateway_trans_id=reference,
        amount_cents=charge.amount_authorized,
        refund=refund,
    )
    with transaction.atomic():
        charge = lock_objects.card_charge_lock(charge_id=charge_id)
        _record_attempt(charge, result)
        if charge.status != ChargeStatus.REFUNDING:
            return charge
        charge.work_lease_until = None
        if result.outcome == Outcome.APPROVED:
            charge.status = ChargeStatus.REFUNDED if refund else ChargeStatus.VOIDED
            charge.refunded_at = timezone.now()
        elif result.outcome == Outcome.DECLINED:
            charge.status = ChargeStatus.REVIEW
            charge.review_reason = (
                f"{'refund' if refund else 'void'} refused: {result.response_code} {result.response_description}"[:255]
            )
        charge.save()
        _charge_event(charge)
    if result.outcome in (Outcome.UNKNOWN, Outcome.TRANSIENT):
        raise GatewayNotDone(result.error or result.response_description or result.outcome)
    return charge


def gateway_batch_file_store(*, cycle_code: str, content: str, uploaded_by: User) -> GatewayBatchFile:
    """Keep the gateway's settled-batch CSV that finance uploaded (reconciliation prefers it to the export). Audited."""
    with transaction.atomic():
        stored = GatewayBatchFile.objects.create(cycle_code=cycle_code, content=content, uploaded_by=uploaded_by)
        audit_record(
            actor=uploaded_by,
            action=AuditAction.BATCH_FILE_UPLOAD,
            reason=f"gateway batch file uploaded for cycle {cycle_code}",
            target=stored,
            detail={"cycle_code": cycle_code, "lines": content.count("\n")},
        )
    return stored


# --- Card credits: refunds from the cents wallet to the card on record (HOP credit) ------------------------------


def card_credit_create(
    *,
    requested_by: User,
    customer: Customer,
    amount_cents: int,
    idempotency_record: IdempotencyRecord | None = None,
) -> CardCredit:
    """Refund `amount_cents` of the customer's cents wallet to the card on record (the one the requester's partner
    stored), through the gateway (004 `credit`).

    1. In one transaction the wallet is debited (CARD_CREDIT, into the credit-pending account) and the credit
       committed as PENDING with a fresh TransactionID (and the request's Idempotency-Key record): the card is
       never refunded without the debit, and a crash at any later point leaves a row the resolver finishes by
       re-sending the same TransactionID.
    2. The gateway is asked outside any transaction, holding a bulkhead slot (gateways.bulkhead).
    3. card_credit_record_answer applies the answer: posted, or refused and the debit given back.
    A request that took over an Idempotency-Key finishes the credit its first holder made (card_credit_resume).
    Returns the credit POSTED, or PENDING (unknown outcome: the wallet stays debited until a worker knows).
    Locks the customer's wallet (the debit). Raises CreditFailed ("payment": no card on record for this partner;
    "balance": more than the wallet holds; "credit": the gateway refused, the cents given back); GatewayBusy
    (no bulkhead slot free: nothing recorded, nothing sent).
    """
    if idempotency_record is not None and idempotency_record.takeovers:
        earlier = CardCredit.objects.filter(idempotency_record=idempotency_record).first()
        if earlier is not None:
            return card_credit_resume(credit_id=earlier.pk)
    method = selectors.payment_method_on_record(customer=customer, partner=requested_by.partner)
    if method is None:
        raise CreditFailed("payment", "details are missing")
    with bulkhead.gateway_slot():
        try:
            with transaction.atomic():
                debit = ledger_services.card_credit_debit(
                    customer_id=customer.pk, partner=requested_by.partner, amount_cents=amount_cents
                )
                credit = CardCredit.objects.create(
                    customer=customer,
                    payment_method=method,
                    requested_by=requested_by,
                    partner=requested_by.partner,
                    amount=amount_cents,
                    gateway_transaction_id=uuid.uuid4().hex,
                    debit_ledger_transaction=debit,
                    idempotency_record=idempotency_record,
                    work_enqueued_at=timezone.now(),  # the request itself is working on it: the sweeper waits
                )
        except InsufficientBalance:
            raise CreditFailed("balance", "is not sufficient") from None
        except IntegrityError:
            if idempotency_record is None:
                raise
            credit = None
        if credit is not None:
            return _credit_send_and_record(credit, resent=False)
    # The holder we took the key over from was alive after all and made the credit: finish that one.
    return card_credit_resume(credit_id=CardCredit.objects.get(idempotency_record=idempotency_record).pk)


def card_credit_resume(*, credit_id: int) -> CardCredit:
    """Finish a credit an earlier request began (a retry took its Idempotency-Key over): a PENDING one is re-sent
    with the same TransactionID; any other is returned as it stands. Raises CreditFailed (refused), GatewayBusy."""
    credit = CardCredit.objects.select_related("payment_method").get(pk=credit_id)
    if credit.status == CreditStatus.PENDING and not credit.review_reason:
        with bulkhead.gateway_slot():
            return _credit_send_and_record(credit, resent=True)
    if credit.status in (CreditStatus.DECLINED, CreditStatus.FAILED):
        raise CreditFailed("credit", credit.response_description or "Credit failed")
    return credit


def _credit_send(credit: CardCredit) -> GatewayResult:
    """The credit's 004 `credit` request: the same TransactionID and fields on every send."""
    method = credit.payment_method
    return bridgecomm.authorize(
        transaction_id=credit.gateway_transaction_id,
        token=method.token,
        expiration_mmyy=method.expiration_mmyy,
        amount_cents=credit.amount,
        transaction_type="credit",
        invoice_num=f"credit-{credit.pk}",
        customer_account_code=str(credit.customer_id),
    )


def _credit_send_and_record(credit: CardCredit, *, resent: bool) -> CardCredit:
    """Send the credit and apply the answer. The caller holds a bulkhead slot. Raises CreditFailed (refused)."""
    if resent:  # the request itself is working on it again: the sweeper waits
        CardCredit.objects.filter(pk=credit.pk, status=CreditStatus.PENDING).update(work_enqueued_at=timezone.now())
    credit = card_credit_record_answer(credit_id=credit.pk, result=_credit_send(credit), resent=resent)
    if credit.status in (CreditStatus.DECLINED, CreditStatus.FAILED):
        raise CreditFailed("credit", credit.response_description or "Credit failed")
    return credit


def card_credit_record_answer(*, credit_id: int, result: GatewayResult, resent: bool = False) -> CardCredit:
    """Record the gateway's answer to a credit and apply it, in one transaction.

    Locks the credit row. Only a PENDING credit moves, so a late or repeated answer never posts or gives back
    twice: approved ("A02 - Credit Posted") → POSTED, the cents moved credit pending → credit payable; declined →
    DECLINED, the gateway said nothing was done → FAILED, both with the wallet debit reversed (given back);
    unknown → stays PENDING. A 30036 to a re-sent TransactionID (duplicate_of_an_earlier_send) or an approval for
    less than asked parks the credit for staff (`review_reason`; the sweeper skips it; the wallet stays debited):
    the gateway may hold a refund we never heard of. The attempt is recorded in every case.
    """
    with transaction.atomic():
        credit = lock_objects.card_credit_lock(credit_id=credit_id)
        _record_attempt(credit, result)
        if credit.status != CreditStatus.PENDING or result.outcome == Outcome.UNKNOWN:
            return credit
        credit.work_lease_until = None
        if duplicate_of_an_earlier_send(result, resent=resent):
            credit.review_reason = (
                f"credit outcome unknown: the re-sent request was answered {result.response_code} "
                f"{result.response_description}; the gateway holds the first one (ask it, or wait for the batch)"
            )[:255]
            credit.save(update_fields=["work_lease_until", "review_reason", "updated_at"])
            logger.warning("card credit %s needs review: %s", credit.pk, credit.review_reason)
            return credit
        credit.response_code = result.response_code
        credit.response_description = result.response_description[:255]
        credit.gateway_trans_id = result.gateway_trans_id
        credit.metadata = result.response_message
        if result.outcome == Outcome.APPROVED:
            credit.posted_ledger_transaction = ledger_services.card_credit_funds_move(
                kind=TransactionKind.CARD_CREDIT_POSTED,
                customer_id=credit.customer_id,
                partner=credit.partner,
                amount_cents=credit.amount,
                source=SystemAccount.USD_CARD_CREDIT_PENDING,
                target=SystemAccount.USD_CARD_CREDIT_PAYABLE,
            )
            credit.status = CreditStatus.POSTED
            credit.posted_at = timezone.now()
        elif result.outcome == Outcome.PARTIALLY_APPROVED:
            credit.review_reason = (
                f"the gateway posted {result.authorized_amount} of {credit.amount} cents; staff decide the rest"
            )[:255]
        else:
            credit.status = CreditStatus.FAILED if result.outcome == Outcome.TRANSIENT else CreditStatus.DECLINED
            credit.giveback_ledger_transaction = ledger_services.transaction_reverse(
                transaction_id=credit.debit_ledger_transaction_id,
                reversed_by=system_user(),
                reason=f"card credit {credit.pk} refused: {result.response_code} {result.response_description}".strip(),
            )
        credit.save()
    logger.info("card credit %s: %s (%s)", credit.pk, credit.status, result.response_code or result.error)
    return credit


def card_credit_resolve(*, credit_id: int) -> CardCredit | None:
    """Resolve a PENDING credit (unknown outcome) by re-sending the identical request with the same TransactionID:
    the gateway answers what it did the first time and never refunds twice. Claims the credit (conditional
    UPDATE, lease). Raises GatewayNotDone while the answer is still not definite. None when there was nothing to do.
    """
    credit = _work_claim(CardCredit, pk=credit_id, status=CreditStatus.PENDING)
    if credit is None:
        return None
    if credit.review_reason:  # parked for staff: re-sending would only get the same 30036
        _work_release(credit.pk, CardCredit)
        return credit
    result = _credit_send(credit)
    credit = card_credit_record_answer(credit_id=credit.pk, result=result, resent=True)
    if credit.status == CreditStatus.PENDING and not credit.review_reason:
        _work_release(credit.pk, CardCredit)
        raise GatewayNotDone(result.error or result.outcome)
    return credit


def gateway_batch_file_replace(*, file_id: int, content: str, replaced_by: User, reason: str) -> GatewayBatchFile:
    """Replace a wrongly uploaded batch file: the old one is kept, marked replaced (by whom, when, with which),
    and the new one becomes the cycle's current file, which the next reconciliation run reads. Audited with the
    reason. Locks the old file's row. Raises InvalidParameter (unknown file, or one already replaced)."""
    with transaction.atomic():
        old = GatewayBatchFile.objects.select_for_update().filter(pk=file_id).first()
        if old is None:
            raise InvalidParameter(str(file_id), "file")
        if old.replaced_at is not None:
            raise InvalidParameter(f"#{old.pk} was already replaced", "file")
        now = timezone.now()
        # The old row stops being current first: one current file per cycle is a UNIQUE constraint.
        GatewayBatchFile.objects.filter(pk=old.pk).update(replaced_at=now, replaced_by=replaced_by)
        stored = GatewayBatchFile.objects.create(cycle_code=old.cycle_code, content=content, uploaded_by=replaced_by)
        GatewayBatchFile.objects.filter(pk=old.pk).update(replaced_with=stored)
        audit_record(
            actor=replaced_by,
            action=AuditAction.BATCH_FILE_UPLOAD,
            reason=reason,
            target=stored,
            detail={"cycle_code": old.cycle_code, "lines": content.count("\n"), "replaces": old.pk},
        )
    return stored
